"""Routing policies, checked against an independent replay of the event log.

``routing`` decides which free agent of a group takes a new contact (docs/scenarios.md):

* ``longest_idle``: the agent whose last slot was released the longest ago (never-used agents
  first, in the group's order);
* ``least_busy``: the lowest share of its slots in use (ties: the longest idle of those);
* ``round_robin``: the first free agent at or after a pointer that moves past each agent chosen;
* ``random``: any free agent, all equally likely.

The replay below rebuilds every agent's held slots and idle order from the ``assign`` and
``close`` rows alone and says, for each new contact, which agent the policy must pick. A queued
contact is not routed: the agent that frees a slot takes the oldest one (LIFECYCLE: *an agent
looks for work*), which the replay checks too.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from model import simulate
from model.scenario import scenario_from_dict

AGENTS = 4
SLOTS = 2


def _scenario(routing: str, rate: float, seed: int = 5, horizon: str = "6h") -> object:
    return scenario_from_dict({
        "simulation": {"horizon": horizon, "warmup": 0, "replications": 2, "seed": seed},
        "services": [{
            "name": "chat", "entry_group": "g", "transfer_timeout": 60,
            "arrivals": {"kind": "poisson", "rate_per_hour": rate},
            "patience": {"kind": "exponential", "mean": 600},
        }],
        "groups": [{
            "name": "g", "agents": AGENTS, "max_concurrent": SLOTS, "routing": routing,
            "handle_time": {"kind": "lognormal", "mean": 300, "cv": 1.0},
        }],
    })


def replay(events, routing: str, slots: dict[str, int] | None = None) -> dict[str, list]:
    """Walk one replication's rows; assert every assignment is the one ``routing`` must make.

    ``slots``: each member's ``max_concurrent``, in the group's order (default: the anonymous
    ``g-1`` ... ``g-4`` with :data:`SLOTS` each).
    Returns the picks seen: ``"routed"`` as (free agents in idle order, chosen), ``"queued"`` count.
    """
    slots = slots or {f"g-{i}": SLOTS for i in range(1, AGENTS + 1)}
    members = list(slots)
    busy = dict.fromkeys(members, 0)
    free = list(members)  # the engine's idle order: a release moves an agent to the end
    pointer = 0
    arrived: dict[int, float] = {}
    last_close: tuple[float, str] | None = None
    seen: dict[str, list] = {"routed": [], "queued": []}
    for row in events.itertuples(index=False):
        if row.event == "arrive":
            arrived[row.contact] = row.time
        elif row.event == "assign":
            a = row.agent
            assert busy[a] < slots[a], f"{a} assigned at t={row.time} with no free slot"
            if arrived[row.contact] == row.time:  # a new contact: routed by the policy
                candidates = [x for x in free if busy[x] < slots[x]]
                if routing == "longest_idle":
                    expected = candidates[0]
                elif routing == "least_busy":
                    expected = min(candidates, key=lambda x: busy[x] / slots[x])
                elif routing == "round_robin":
                    n = len(members)
                    expected = next(members[(pointer + k) % n] for k in range(n)
                                    if members[(pointer + k) % n] in candidates)
                else:
                    expected = a
                    assert a in candidates
                assert a == expected, (f"t={row.time}: {routing} picked {a}, expected {expected} "
                                       f"(free, longest idle first: {candidates}, busy {busy})")
                seen["routed"].append((candidates, a))
                if routing == "round_robin":
                    pointer = (members.index(a) + 1) % len(members)
            else:  # from the queue: the agent that has just freed a slot takes it
                assert last_close is not None and last_close == (row.time, a), (
                    f"t={row.time}: queued contact {row.contact} went to {a}, not to the agent "
                    f"that freed a slot ({last_close})")
                seen["queued"].append(a)
            busy[a] += 1
            if busy[a] >= slots[a]:
                free.remove(a)
        elif row.event == "close":
            a = row.agent
            busy[a] -= 1
            if a in free:
                free.remove(a)
            free.append(a)
            last_close = (row.time, a)
    return seen


@pytest.mark.parametrize("routing", ["longest_idle", "least_busy", "round_robin", "random"])
@pytest.mark.parametrize("rate", [50, 110])  # light (agents mostly free) and busy (a queue forms)
def test_every_new_contact_goes_to_the_agent_the_policy_names(routing, rate):
    res = simulate(_scenario(routing, rate), timeline_step=None)
    ev = res.events
    routed = queued = 0
    ties = 0
    for _, rows in ev.groupby("replication", observed=True):
        seen = replay(rows, routing)
        routed += len(seen["routed"])
        queued += len(seen["queued"])
        # the policy must have had a real choice to make, often
        ties += sum(len(c) > 1 for c, _ in seen["routed"])
    assert routed > 300 and ties > 100
    if rate == 110:
        assert queued > 20, "the busy case should send queued contacts to agents freeing a slot"


def test_the_policies_really_differ():
    """Same arrivals and handle times (the streams are per purpose), different agents chosen."""
    picks = {}
    for routing in ("longest_idle", "least_busy", "round_robin", "random"):
        ev = simulate(_scenario(routing, 50), timeline_step=None).events
        picks[routing] = tuple(ev.loc[ev.event == "assign", "agent"].astype(str))
    assert len(set(picks.values())) == 4


def test_random_routing_picks_each_free_agent_equally_often():
    """With k agents free, the one chosen is equally likely to be 1st, 2nd, ... k-th in idle order."""
    res = simulate(_scenario("random", 50, seed=9, horizon="12h"), timeline_step=None)
    positions = []
    for _, rows in res.events.groupby("replication", observed=True):
        for candidates, a in replay(rows, "random")["routed"]:
            if len(candidates) == AGENTS:
                positions.append(candidates.index(a))
    counts = np.bincount(positions, minlength=AGENTS)
    assert counts.sum() > 300
    assert stats.chisquare(counts).pvalue > 1e-3, counts
    # and it is not longest idle in disguise: the longest idle agent is picked about 1 time in 4
    assert counts[0] / counts.sum() < 0.4


def test_least_busy_prefers_the_emptier_agent_over_the_longer_idle_one():
    """A case where least_busy and longest_idle disagree must occur, and least_busy win it."""
    res = simulate(_scenario("least_busy", 110), timeline_step=None)
    disagreements = 0
    for _, rows in res.events.groupby("replication", observed=True):
        busy: dict[str, int] = {}
        for row in rows.itertuples(index=False):
            if row.event == "assign":
                busy[row.agent] = busy.get(row.agent, 0) + 1
            elif row.event == "close":
                busy[row.agent] -= 1
        seen = replay(rows, "least_busy")
        disagreements += sum(c[0] != a for c, a in seen["routed"])
    assert disagreements > 20


@pytest.mark.parametrize("routing", ["least_busy", "round_robin", "longest_idle"])
def test_named_agents_with_different_slots_are_routed_by_their_share_of_slots_held(routing):
    """least_busy compares the share of slots held: 1 of 4 is less busy than 1 of 2."""
    sc = scenario_from_dict({
        "simulation": {"horizon": "6h", "warmup": 0, "replications": 2, "seed": 4},
        "services": [{"name": "chat", "entry_group": "g", "transfer_timeout": 60,
                      "arrivals": {"kind": "poisson", "rate_per_hour": 70},
                      "patience": {"kind": "exponential", "mean": 600}}],
        "groups": [{"name": "g", "agents": 0, "routing": routing,
                    "handle_time": {"kind": "lognormal", "mean": 300, "cv": 1.0}}],
        "agents": [{"name": "big", "groups": ["g"], "max_concurrent": 4},
                   {"name": "small", "groups": ["g"], "max_concurrent": 2},
                   {"name": "mid", "groups": ["g"], "max_concurrent": 3}],
    })
    res = simulate(sc, timeline_step=None)
    routed = 0
    for _, rows in res.events.groupby("replication", observed=True):
        routed += len(replay(rows, routing, slots={"big": 4, "small": 2, "mid": 3})["routed"])
    assert routed > 300
