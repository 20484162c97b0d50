"""The engine's exact behaviour, pinned: the same scenario and seed give the same records, bit for bit.

Each scenario below exercises a different corner of the engine (every routing policy, both offer
modes, rejections, offer and transfer timeouts, transfer patience, the ``return`` policy, transfers
to a named agent, an arrival profile with a silent step, warm-up, dissuasion, several chats per
agent). The digest covers the whole output a user reads: the event log, the transfers table, the
timeline and the metrics. Any change of behaviour, however small (an agent picked differently, a
tie broken the other way, a group left out of a log row), changes a digest.

When a change of behaviour is *intended*, regenerate the digests and say why in the commit::

    .venv/bin/python tests/test_engine_pinned.py --update

A refactoring (issue 13: splitting the engine, one owner for the lifecycle) must leave them alone.
The digests depend on numpy's random streams; numpy keeps ``Generator`` streams stable across
versions except for rare documented bug fixes, which would show here first.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from model import simulate  # noqa: E402
from model.scenario import scenario_from_dict  # noqa: E402

DIGESTS = Path(__file__).with_name("pinned_digests.json")

SCENARIOS: dict[str, str] = {
    # Routing policies side by side; a sequential group with rejections and offer timeouts,
    # a broadcast group; a profile with a silent hour; queued contacts dissuaded.
    "routing": """
[simulation]
horizon = "3h"
warmup = "20m"
replications = 2
seed = 11

[[services]]
name = "chat"
entry_group = "front"
transfer_timeout = "45s"
dissuasion_timeout = "6m"
arrivals = { kind = "poisson", profile = [["00:00", 150], ["01:00", 0], ["01:30", 260]] }
patience = { kind = "lognormal", mean = "8m", cv = 1.2 }
transfer_patience = { kind = "exponential", mean = "2m" }

[[groups]]
name = "front"
agents = 7
max_concurrent = 2
handle_time = { kind = "lognormal", mean = "5m", cv = 0.9 }
routing = "random"
transfers = [
  { to = "rr", probability = 0.15, message = "billing" },
  { to = "lb", probability = 0.10 },
  { to = "bc", probability = 0.10 },
]

[[groups]]
name = "rr"
agents = 3
max_concurrent = 2
handle_time = { kind = "gamma", mean = "6m", cv = 0.7 }
routing = "round_robin"
accept_delay = { kind = "lognormal", mean = "15s", cv = 1.0 }
reject_probability = 0.2
offer_timeout = "25s"

[[groups]]
name = "lb"
agents = 3
max_concurrent = 3
handle_time = { kind = "exponential", mean = "7m" }
routing = "least_busy"
accept_delay = { kind = "uniform", low = "2s", high = "30s" }
reject_probability = 0.1

[[groups]]
name = "bc"
agents = 4
max_concurrent = 1
handle_time = { kind = "erlang", mean = "8m", k = 3 }
offer_mode = "broadcast"
accept_delay = { kind = "exponential", mean = "20s" }
reject_probability = 0.3
offer_timeout = "30s"
""",
    # The "return" policy, named agents in several groups, a transfer to one named agent,
    # transfers out of a transfer group, constant arrivals, longest-idle routing everywhere.
    "return": """
[simulation]
horizon = "2h"
warmup = "10m"
replications = 2
seed = 7

[[services]]
name = "sales"
entry_group = "desk"
transfer_timeout = "30s"
on_transfer_timeout = "return"
arrivals = { kind = "constant", rate_per_hour = 90 }
patience = { kind = "exponential", mean = "2m" }

[[services]]
name = "care"
entry_group = "desk"
transfer_timeout = "40s"
arrivals = { kind = "poisson", rate_per_hour = 60 }
patience = { kind = "uniform", low = "30s", high = "5m" }
transfer_patience = { kind = "constant", value = "35s" }

[[groups]]
name = "desk"
agents = 4
max_concurrent = 2
handle_time = { kind = "lognormal", mean = "4m", cv = 0.8 }
transfers = [
  { to = "experts", probability = 0.25 },
  { to = "agent:zoe", probability = 0.10, message = "ask Zoe" },
]

[[groups]]
name = "experts"
agents = 1
max_concurrent = 1
handle_time = { kind = "constant", value = "6m" }
accept_delay = { kind = "constant", value = "10s" }
reject_probability = 0.15
transfers = [ { to = "desk", probability = 0.2 } ]

[[agents]]
name = "zoe"
groups = ["experts", "desk"]
max_concurrent = 2

[[agents]]
name = "yan"
groups = ["experts"]
max_concurrent = 1
""",
}


def _scenario(name: str):  # noqa: ANN202 (a Scenario)
    return scenario_from_dict(tomllib.loads(SCENARIOS[name]))


def digest(name: str) -> str:
    """sha256 of everything a user reads of the scenario's run: events, transfers, timeline, metrics."""
    res = simulate(_scenario(name), timeline_step=600.0)
    h = hashlib.sha256()
    for label, frame in (("events", res.events), ("transfers", res.transfers), ("timeline", res.timeline),
                         ("metrics", res.metrics), ("per_replication", res.per_replication)):
        assert isinstance(frame, pd.DataFrame) and len(frame), f"{name}: {label} is empty"
        h.update(label.encode())
        h.update(frame.to_csv(index=False, float_format=repr).encode())
    return h.hexdigest()


def test_the_pinned_scenarios_exercise_what_they_claim():
    """A digest only pins what the run goes through: check the runs reach every corner named above."""
    r = simulate(_scenario("routing"), timeline_step=600.0)
    ev = r.events
    assert {"offer_timeout", "reject", "accept", "transfer_timeout", "customer_leave", "dissuade"} <= set(ev.event)
    assert ev.agent.astype(str).str.contains(",").any(), "no broadcast offer to several agents"
    offered_groups = set(ev.loc[ev.event == "offer", "group"])
    assert offered_groups == {"rr", "lb", "bc"}
    assert set(r.transfers.outcome) >= {"accepted", "transfer_expired", "abandoned_transfer"}
    # the silent hour [01:00, 01:30) of the profile: no arrival in it
    arrive = ev.loc[ev.event == "arrive", "time"]
    assert not ((arrive >= 3600) & (arrive < 5400)).any() and (arrive >= 5400).any()

    r = simulate(_scenario("return"), timeline_step=600.0)
    t = r.transfers
    assert "returned" in set(t.outcome) and "agent:zoe" in set(t.target)
    assert "experts" in set(t.group), "no transfer out of a transfer group"
    assert {"sales", "care"} == set(r.events.service)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_scenario_and_seed_give_the_pinned_records(name):
    pinned = json.loads(DIGESTS.read_text())
    got = digest(name)
    assert got == pinned[name], (
        f"the engine's records for the pinned scenario {name!r} changed ({got} != {pinned[name]}). "
        "A refactoring must not change them. If the change of behaviour is intended, run "
        "'.venv/bin/python tests/test_engine_pinned.py --update' and say why in the commit."
    )


def test_the_engine_rows_have_the_records_fields_in_order():
    """The engine appends plain tuples (cheaper for the garbage collector); they must read as records."""
    from model.results.records import EventRow, TimelineRow, TransferRow
    from model.sim import Replication

    out = Replication(_scenario("return"), seed=7, replication=0, keep_events=True, timeline_step=600.0).run()
    for rows, record in ((out.events, EventRow), (out.transfers, TransferRow), (out.timeline, TimelineRow)):
        assert rows and all(len(r) == len(record._fields) for r in rows)
    first = EventRow(*out.events[0])
    assert (first.event, first.from_state, first.to_state, first.contact) == ("arrive", None, "queued", 0)
    assert isinstance(TransferRow(*out.transfers[0]).requested_at, float)
    assert TimelineRow(*out.timeline[0]).time == 600.0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_engine_pinned.py --update")
    DIGESTS.write_text(json.dumps({n: digest(n) for n in sorted(SCENARIOS)}, indent=2) + "\n")
    print(f"wrote {DIGESTS.relative_to(ROOT)}")
