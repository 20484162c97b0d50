"""An independent implementation of the contact-transfer lifecycle, for the conformance kit.

Written from LIFECYCLE.md alone: it does not import ``model``. It is both

* a Python adapter class: ``transfer-sim conform --adapter python:examples/conformance/python/impl.py:TransferImpl``
* a JSON-lines program:  ``transfer-sim conform --adapter "exec:python examples/conformance/python/impl.py"``

Deliberately wrong variants, to prove the suite catches them: ``--bug NAME`` on the command
line, the environment variable ``CONFORMANCE_BUG=NAME``, or ``TransferImpl(bug=NAME)``.
"""

from __future__ import annotations

import json
import os
import sys

BUGS = {
    "accept_at_deadline": "an accept at exactly the transfer deadline still joins (timer fires only after it)",
    "reject_keeps_agent": "a reject does not exclude the agent: it can be offered the transfer again",
    "timer_reset_on_offer": "every offer restarts the transfer timer",
    "self_transfer": "the owner may transfer the contact to itself (agent:OWNER)",
    "offers_kept_after_accept": "other agents' offers are not withdrawn when one accepts",
    "leave_transfer_completed": "a customer leaving during a transfer counts as completed",
    "assign_at_dissuasion": "an assign at exactly the dissuasion deadline still takes the contact",
    "withdraw_excludes_agent": "a withdraw (end of shift) excludes the agent like a reject and drops every offer",
    "timer_reset_on_reoffer": "the transfer timer restarts on every re-offer (an offer after a reject, offer timeout or withdraw)",
    "close_during_transfer": "a close is taken during a transfer (in routing or offered) and completes the contact",
}

TRANSFERRING = ("routing", "offered")


class TransferImpl:
    """One contact on a virtual clock; ``send`` returns True if the event is taken."""

    def __init__(self, bug: str | None = None) -> None:
        bug = bug if bug is not None else (os.environ.get("CONFORMANCE_BUG") or None)
        if bug is not None and bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r}; known: {', '.join(BUGS)}")
        self.bug = bug

    # -- session API ---------------------------------------------------------------------
    def create(self, config: dict) -> None:
        self.transfer_timeout = float(config.get("transfer_timeout", 60.0))
        dissuasion = config.get("dissuasion_timeout")
        self.policy = config.get("on_transfer_timeout", "abandon")
        targets = config.get("targets")  # none: any target and any agent
        self.groups = None if targets is None else {name: set(agents) for name, agents in targets.items()}
        self.now = 0.0
        self.state = "queued"
        self.owner = None
        self.requester = None
        self.target = None
        self.offered: set[str] = set()
        self.rejected: set[str] = set()
        self.transfer_count = 0
        self.transfer_deadline = None
        self.dissuasion_deadline = None if dissuasion is None else float(dissuasion)
        self.advance(0.0)  # a dissuasion timer of length 0 fires as the contact arrives

    def dispose(self) -> None:
        self.state = None

    def read(self) -> dict:
        return {
            "state": self.state,
            "owner": self.owner,
            "offered": sorted(self.offered),
            "transfer_count": self.transfer_count,
        }

    def advance(self, seconds: float) -> None:
        end = self.now + float(seconds)
        while True:
            if self.state == "queued" and self._due(self.dissuasion_deadline, end, "assign_at_dissuasion"):
                self.now = self.dissuasion_deadline
                self.state = "dissuaded"
            elif self.state in TRANSFERRING and self._due(self.transfer_deadline, end, "accept_at_deadline"):
                self.now = self.transfer_deadline
                self.offered.clear()
                self.transfer_deadline = None
                if self.policy == "return":
                    self.state, self.owner = "engaged", self.requester
                else:
                    self.state = "transfer_expired"
            else:
                break
        self.now = end

    def send(self, event: str, data: dict) -> bool:
        handler = getattr(self, "_on_" + event, None)
        if handler is None:
            return False  # unknown events, and the timer events: timers fire on the clock only
        taken = bool(handler(**data))
        self.advance(0.0)  # a timer of length 0 that the event started fires at once
        return taken

    # -- rules ----------------------------------------------------------------------------
    def _due(self, deadline, end, late_bug) -> bool:
        if deadline is None:
            return False
        return deadline < end if self.bug == late_bug else deadline <= end

    def _known(self, target: str) -> bool:
        """A group (even one with nobody in it: it exists all day), or agent:NAME of an agent in a group."""
        if self.groups is None or target in self.groups:
            return True
        return target.startswith("agent:") and any(target[len("agent:"):] in a for a in self.groups.values())

    def _members(self, target: str) -> set[str] | None:
        if self.groups is None:
            return None
        if target in self.groups:  # a group's name wins over the agent:NAME reading
            return self.groups[target]
        if target.startswith("agent:"):
            agent = target[len("agent:"):]
            if any(agent in agents for agents in self.groups.values()):
                return {agent}
        return set()

    def _on_assign(self, agent=None, **_) -> bool:
        if self.state != "queued" or not agent:
            return False
        if self.dissuasion_deadline is not None and self.now >= self.dissuasion_deadline:
            if not (self.bug == "assign_at_dissuasion" and self.now == self.dissuasion_deadline):
                return False
        self.state, self.owner = "engaged", agent
        return True

    def _on_close(self, **_) -> bool:
        if self.state != "engaged" and not (self.bug == "close_during_transfer" and self.state in TRANSFERRING):
            return False
        self.offered.clear()
        self.state, self.owner = "completed", None
        return True

    def _on_customer_leave(self, **_) -> bool:
        if self.state == "queued":
            self.state = "abandoned_queue"
        elif self.state == "engaged":
            self.state, self.owner = "completed", None
        elif self.state in TRANSFERRING:
            self.offered.clear()
            self.state = "completed" if self.bug == "leave_transfer_completed" else "abandoned_transfer"
        else:
            return False
        return True

    def _on_request_transfer(self, target=None, message=None, **_) -> bool:
        if self.state != "engaged" or not target:
            return False
        if target == "agent:" + str(self.owner) and self.bug != "self_transfer":
            return False
        if not self._known(target) and not (self.bug == "self_transfer" and target == "agent:" + str(self.owner)):
            return False
        self.requester, self.owner = self.owner, None
        self.target, self.message = target, message
        self.offered.clear()
        self.rejected.clear()
        self.transfer_deadline = self.now + self.transfer_timeout
        self.offers_made = 0
        self.state = "routing"
        return True

    def _on_offer(self, agents=None, **_) -> bool:
        if self.state != "routing" or not agents:
            return False
        members = self._members(self.target) if self.target != "agent:" + str(self.requester) else {self.requester}
        if any(a in self.rejected or (members is not None and a not in members) for a in agents):
            return False
        self.offered |= set(agents)
        self.state = "offered"
        if self.bug == "timer_reset_on_offer" or (self.bug == "timer_reset_on_reoffer" and self.offers_made):
            self.transfer_deadline = self.now + self.transfer_timeout
        self.offers_made += 1
        return True

    def _holds(self, agent) -> bool:
        return self.state == "offered" and agent in self.offered

    def _on_accept(self, agent=None, **_) -> bool:
        if not self._holds(agent):
            return False
        late = self.now > self.transfer_deadline if self.bug == "accept_at_deadline" else self.now >= self.transfer_deadline
        if late:
            return False
        self.owner = agent
        if self.bug == "offers_kept_after_accept":
            self.offered.discard(agent)
        else:
            self.offered.clear()
        self.transfer_count += 1
        self.transfer_deadline = None
        self.state = "engaged"
        return True

    def _on_reject(self, agent=None, **_) -> bool:
        if not self._holds(agent):
            return False
        if self.bug != "reject_keeps_agent":
            self.rejected.add(agent)
        self.offered.clear()
        self.state = "routing"
        return True

    def _on_offer_timeout(self, agent=None, **_) -> bool:
        if not self._holds(agent):
            return False
        self.offered.clear()
        self.state = "routing"
        return True

    def _on_withdraw(self, agent=None, **_) -> bool:
        if not self._holds(agent):
            return False
        if self.bug == "withdraw_excludes_agent":
            self.rejected.add(agent)
            self.offered.clear()
        else:
            self.offered.discard(agent)
        if not self.offered:
            self.state = "routing"
        return True


def main(argv: list[str]) -> int:
    """The exec side of the protocol: one JSON request per line in, one reply per line out."""
    bug = argv[argv.index("--bug") + 1] if "--bug" in argv else None
    impl = TransferImpl(bug)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "create":
                impl.create(req.get("config") or {})
                reply = {"ok": True}
            elif op == "send":
                reply = {"ok": True, "refused": not impl.send(req["event"], req.get("data") or {})}
            elif op == "advance":
                impl.advance(req["seconds"])
                reply = {"ok": True}
            elif op == "read":
                reply = {"ok": True, **impl.read()}
            elif op == "dispose":
                impl.dispose()
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as err:
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
