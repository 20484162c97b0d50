"""Checking recorded traces (``conform --trace``) and the simulator's own log as one (``run --trace``).

Hand-written traces: a valid one passes; an accept at exactly the transfer deadline, an offer to an
agent that rejected, a timer the trace misses or invents fail at the right line; interleaved
contacts are checked one by one; hostile files are one ``error:`` line with file, line and field
(exit 2). The simulator's traces of a scenario with every feature (broadcast, offer timeouts,
policy ``return``, shifts, two services with different timeouts) pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.conformance import TraceError, check_trace
from model.conformance.sim_trace import service_config, trace_files
from model.scenario import load_scenario

CONFIG = {"transfer_timeout": 10.0, "dissuasion_timeout": 5.0, "on_transfer_timeout": "abandon",
          "targets": {"sales": ["a1"], "billing": ["b1", "b2"]}}


def rec(contact: Any, t: float, event: str, state: str, **data: Any) -> dict[str, Any]:
    return {"contact": contact, "t": t, "event": event, "data": data, "state": state}


def lines(*records: dict[str, Any], config: dict[str, Any] = CONFIG) -> list[str]:
    """A trace's lines: line 1 the config, line k + 1 the k-th record."""
    return [json.dumps({"config": config})] + [json.dumps(r) for r in records]


def write(tmp_path: Path, text: str | list[str], name: str = "trace.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else "\n".join(text) + "\n")
    return path


def conform(path: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["conform", "--trace", str(path), *extra])
    return res.exit_code, res.output


# a transfer that is rejected by b1, re-offered to b2 and accepted; interleaved with a contact
# dissuaded at its deadline and one that leaves the queue
VALID = [
    rec(1, 0, "arrive", "queued"),                                        # line 2
    rec(2, 0.5, "arrive", "queued"),                                      # line 3
    rec(1, 1, "assign", "engaged", agent="a1"),                           # line 4
    rec(3, 1.5, "arrive", "queued"),                                      # line 5
    rec(1, 2, "request_transfer", "routing", target="billing", message="bill"),  # line 6
    rec(1, 3, "offer", "offered", agents=["b1"]),                         # line 7
    rec(3, 3.25, "customer_leave", "abandoned_queue"),                    # line 8
    rec(1, 4, "reject", "routing", agent="b1"),                           # line 9
    rec(2, 5.5, "dissuade", "dissuaded"),                                 # line 10
    rec(1, 6, "offer", "offered", agents=["b2"]),                         # line 11
    rec(1, 11.875, "accept", "engaged", agent="b2"),                      # line 12
    rec(1, 20, "close", "completed"),                                     # line 13
]


def test_a_valid_trace_passes_with_its_coverage(tmp_path):
    result = check_trace(lines(*VALID))
    assert result.passed and result.records == len(VALID) and result.contacts == 3
    assert result.coverage["states"]["covered"] == 7  # queued engaged routing offered completed abandoned_queue dissuaded
    code, out = conform(write(tmp_path, lines(*VALID)))
    assert code == 0, out
    assert "3 of 3 contacts follow the model" in out and "coverage of the traced traffic:" in out
    assert "timer_boundaries" in out


def failure(trace: list[str]):
    result = check_trace(trace)
    assert not result.passed
    assert len(result.failures) == 1, result.failures
    return result.failures[0]


def test_an_accept_at_exactly_the_transfer_deadline_fails_at_its_line(tmp_path):
    trace = lines(*VALID[:10], rec(1, 12, "accept", "engaged", agent="b2"))  # requested at 2: deadline 12
    f = failure(trace)
    assert (f.contact, f.line) == (1, 12)
    assert f.trace == 't=12  accept {"agent": "b2"} -> engaged'
    assert f.model == ("transfer_timeout fires at t=12 (offered -> transfer_expired) before this record; "
                       "the trace does not show it")
    code, out = conform(write(tmp_path, trace))
    assert code == 1 and "contact 1: line 12" in out and "model says: transfer_timeout fires at t=12" in out, out
    assert ">> line 12" in out and 'line 9      t=4  reject {"agent": "b1"} -> routing' in out  # its records


def test_an_offer_to_an_agent_that_rejected_fails_at_its_line():
    trace = lines(*VALID[:9], rec(1, 6, "offer", "offered", agents=["b1"]))  # sequential: b1 is excluded
    f = failure(trace)
    assert f.line == 11
    assert f.model == ("offer is refused in state routing: guard failed: agents_are_eligible "
                       "[no agent has rejected this transfer: false]")


def test_a_missing_timer_fails_where_the_model_fires_it():
    # the trace keeps contact 1 in routing past its deadline (12) and offers at 13
    trace = lines(*VALID[:9], rec(1, 13, "offer", "offered", agents=["b2"]))
    f = failure(trace)
    assert f.line == 11 and f.model.startswith("transfer_timeout fires at t=12 (routing -> transfer_expired)")
    # ... or has no later record of it while the trace goes on past the deadline
    trace = lines(*VALID[:9], rec(4, 30, "arrive", "queued"))
    f = failure(trace)
    assert f.line == 9 and f.contact == 1  # its last record, the reject
    assert "no later record of this contact (the trace goes on to t=30)" in f.trace
    assert f.model.startswith("transfer_timeout fires at t=12 (routing")


def test_a_recorded_timer_the_model_does_not_fire_fails():
    early = lines(*VALID[:9], rec(1, 11, "transfer_timeout", "transfer_expired"))
    assert failure(early).model == "the transfer timer is due at t=12, not yet at t=11"
    late = lines(*VALID[:9], rec(1, 12.5, "transfer_timeout", "transfer_expired"))
    assert failure(late).model == ("transfer_timeout fires at t=12 (routing -> transfer_expired); "
                                   "the trace records it later")
    off = lines(rec(1, 0, "arrive", "queued"), rec(1, 9, "dissuade", "dissuaded"),
                config={**CONFIG, "dissuasion_timeout": None})
    assert failure(off).model == "the dissuasion timer is off (no timeout configured)"
    engaged = lines(rec(1, 0, "arrive", "queued"), rec(1, 1, "assign", "engaged", agent="a1"),
                    rec(1, 12, "transfer_timeout", "transfer_expired"))
    assert failure(engaged).model == "no transfer timer runs in state engaged"


def test_a_broadcast_reject_that_keeps_the_other_offer_fails_on_the_state():
    trace = lines(rec(1, 0, "arrive", "queued"), rec(1, 1, "assign", "engaged", agent="a1"),
                  rec(1, 2, "request_transfer", "routing", target="billing"),
                  rec(1, 3, "offer", "offered", agents=["b1", "b2"]),
                  rec(1, 4, "reject", "offered", agent="b1"))  # the implementation kept b2's offer
    f = failure(trace)
    assert f.line == 6 and f.model == "reject leads to routing"


def test_interleaved_contacts_are_checked_one_by_one():
    trace = lines(
        rec("x", 0, "arrive", "queued"), rec("y", 0, "arrive", "queued"),
        rec("x", 1, "assign", "engaged", agent="a1"), rec("y", 1, "assign", "engaged", agent="a1"),
        rec("y", 2, "close", "completed"), rec("x", 2, "request_transfer", "routing", target="agent:a1"),  # itself
        rec("x", 3, "close", "completed"), rec("y", 3, "close", "completed"),  # y is already completed
    )
    result = check_trace(trace)
    assert [(f.contact, f.line) for f in result.failures] == [("x", 7), ("y", 9)]
    assert "target_is_valid" in result.failures[0].model
    assert result.failures[1].model == "close is refused in state completed: no transition"


def test_timers_of_length_zero_fire_at_once():
    zero = {**CONFIG, "dissuasion_timeout": 0.0, "transfer_timeout": 0.0}
    assert check_trace(lines(rec(1, 7, "arrive", "queued"), rec(1, 7, "dissuade", "dissuaded"), config=zero)).passed
    f = failure(lines(rec(1, 7, "arrive", "queued"), rec(1, 7, "assign", "engaged", agent="a1"), config=zero))
    assert f.line == 3 and f.model.startswith("dissuade fires at t=7 (queued -> dissuaded) before this record")
    no_dissuasion = {**zero, "dissuasion_timeout": None}
    assert check_trace(lines(rec(1, 7, "arrive", "queued"), rec(1, 8, "assign", "engaged", agent="a1"),
                             rec(1, 9, "request_transfer", "routing", target="billing"),
                             rec(1, 9, "transfer_timeout", "transfer_expired"), config=no_dissuasion)).passed


def test_policy_return_brings_the_contact_back():
    back = {**CONFIG, "on_transfer_timeout": "return"}
    trace = lines(rec(1, 0, "arrive", "queued"), rec(1, 1, "assign", "engaged", agent="a1"),
                  rec(1, 2, "request_transfer", "routing", target="billing"),
                  rec(1, 12, "transfer_timeout", "engaged"), rec(1, 30, "close", "completed"), config=back)
    assert check_trace(trace).passed


# -- hostile files: exit 2, one error line with the file, the line and the field -------------------

GOOD = lines(*VALID[:3])


@pytest.mark.parametrize("text, where", [
    ("", "trace.jsonl: config: empty trace"),
    ("\n".join([GOOD[0], GOOD[1], "{not json"]), "trace.jsonl:3: not JSON"),
    ("\n".join(GOOD[1:]), "trace.jsonl:1: config: the first line must be"),
    ("\n".join([json.dumps({"config": {**CONFIG, "on_transfer_timeout": "shrug"}})] + GOOD[1:]),
     "trace.jsonl:1: config.on_transfer_timeout: one of"),
    ("\n".join([json.dumps({"config": {**CONFIG, "transfer_timeout": -1}})] + GOOD[1:]),
     "trace.jsonl:1: config.transfer_timeout: a number of seconds >= 0"),
    ("\n".join(GOOD + [json.dumps(rec(1, 2, "teleport", "engaged"))]), "trace.jsonl:5: event: unknown event 'teleport'"),
    ("\n".join(GOOD + [json.dumps(rec(1, 2, "close", "done"))]), "trace.jsonl:5: state: unknown state 'done'"),
    ("\n".join(GOOD + [json.dumps(rec(2, 0.25, "close", "completed"))]),
     "trace.jsonl:5: t: time goes back for contact 2: 0.25 after 0.5 (line 3)"),
    ("\n".join(GOOD + [json.dumps(rec(9, 1, "assign", "engaged", agent="a1"))]),
     "trace.jsonl:5: event: contact 9 first appears with 'assign'"),
    ("\n".join(GOOD + [json.dumps(rec(1, 1, "arrive", "queued"))]), "trace.jsonl:5: event: contact 1 arrives again"),
    ("\n".join(GOOD + [json.dumps(rec(1, 1, "assign", "engaged", agent=7))]), "trace.jsonl:5: data.agent: wrong type"),
    ("\n".join(GOOD + ['{"contact": 1, "event": "close", "state": "completed"}']), "trace.jsonl:5: t: missing"),
    ("\n".join(GOOD + ['{"contact": 1, "t": "noon", "event": "close", "state": "completed"}']),
     "trace.jsonl:5: t: a number of seconds"),
    ("\n".join(GOOD + ['[1, 2]']), "trace.jsonl:5: a record is a JSON object"),
    ("\n".join(GOOD + ['{"contact": null, "t": 1, "event": "close", "state": "completed"}']),
     "trace.jsonl:5: contact: a string or an integer"),
])
def test_a_bad_trace_file_exits_2_with_file_line_and_field(tmp_path, text, where):
    path = write(tmp_path, text)
    code, out = conform(path)
    assert code == 2, out
    assert out.startswith("error: ") and where in out, out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    with pytest.raises(TraceError):
        check_trace(path)


def test_a_missing_or_binary_file_exits_2(tmp_path):
    code, out = conform(tmp_path / "nope.jsonl")
    assert code == 2 and "nope.jsonl: cannot read" in out
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(GOOD[0].encode() + b"\n\xff\xfe\n")
    code, out = conform(binary)
    assert code == 2 and "bin.jsonl:2: not UTF-8" in out, out


def test_trace_takes_no_adapter(tmp_path):
    res = CliRunner().invoke(app, ["conform", "--trace", str(write(tmp_path, GOOD)), "--adapter", "model"])
    assert res.exit_code == 2 and "takes no --adapter" in res.output


# -- the simulator's own log is a valid trace ----------------------------------------------------

SCENARIO = """
name = "every-feature"

[simulation]
start = "08:00"
horizon = "90m"
warmup = "10m"
replications = 2
seed = 11

[[services]]
name = "chat"
entry_group = "front"
transfer_timeout = "45s"
dissuasion_timeout = "2m"
on_transfer_timeout = "return"
arrivals = { kind = "poisson", rate_per_hour = 180 }
patience = { kind = "exponential", mean = "3m" }
transfer_patience = { kind = "exponential", mean = "2m" }

[[services]]
name = "vip"
entry_group = "front"
transfer_timeout = "20s"
arrivals = { kind = "poisson", rate_per_hour = 40 }

[[groups]]
name = "front"
agents = 4
max_concurrent = 2
handle_time = { kind = "exponential", mean = "3m" }
transfers = [{ to = "billing", probability = 0.3 }, { to = "tech", probability = 0.25 },
             { to = "agent:anna", probability = 0.05 }]

[[groups]]
name = "billing"
agents = 2
handle_time = { kind = "exponential", mean = "4m" }
accept_delay = { kind = "exponential", mean = "15s" }
reject_probability = 0.25
offer_timeout = "20s"

[[groups]]
name = "tech"
agents = 2
handle_time = { kind = "exponential", mean = "4m" }
offer_mode = "broadcast"
accept_delay = { kind = "exponential", mean = "10s" }
reject_probability = 0.3

[[agents]]
name = "anna"
groups = ["tech"]
shifts = [["08:00", "08:40"]]
"""


def test_the_simulators_own_trace_passes(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO)
    sc = load_scenario(tmp_path / "s.toml")
    assert trace_files(sc) == {"trace-chat.jsonl": ["chat"], "trace-vip.jsonl": ["vip"]}  # timeouts differ
    assert service_config(sc, sc.service("vip")) == {
        "transfer_timeout": 20.0, "dissuasion_timeout": None, "on_transfer_timeout": "abandon",
        "targets": {"front": ["front-1", "front-2", "front-3", "front-4"], "billing": ["billing-1", "billing-2"],
                    "tech": ["tech-1", "tech-2", "anna"]}}
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(tmp_path / "s.toml"), "--out", str(out), "--trace"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out / 'trace-chat.jsonl'}" in res.output
    events: set[str] = set()
    for name in ("trace-chat.jsonl", "trace-vip.jsonl"):
        result = check_trace(out / name)
        assert result.passed, result.failures[:3]
        events |= {json.loads(x)["event"] for x in (out / name).read_text().splitlines()[1:]}
        code, text = conform(out / name)
        assert code == 0 and f"{result.contacts} of {result.contacts} contacts follow the model" in text
    # the traffic went through every kind of event the scenario can produce
    assert events >= {"arrive", "assign", "close", "customer_leave", "dissuade", "request_transfer", "offer",
                      "accept", "reject", "offer_timeout", "withdraw", "transfer_timeout"}, events


def test_one_service_gives_one_trace_and_run_trace_needs_out(tmp_path):
    one = SCENARIO.split("[[services]]\nname = \"vip\"")[0] + "[[groups]]" + SCENARIO.split("[[groups]]", 1)[1]
    (tmp_path / "one.toml").write_text(one)
    assert list(trace_files(load_scenario(tmp_path / "one.toml"))) == ["trace.jsonl"]
    res = CliRunner().invoke(app, ["run", str(tmp_path / "one.toml"), "--trace"])
    assert res.exit_code == 2 and "give --out DIR" in res.output


@pytest.mark.parametrize("change", [("transfer_timeout = \"45s\"", "transfer_timeout = \"0s\""),
                                    ("dissuasion_timeout = \"2m\"", "dissuasion_timeout = \"0s\"")])
def test_the_simulators_trace_with_timers_of_length_zero_passes(tmp_path, change):
    from model.conformance import write_traces
    from model.sim import simulate

    (tmp_path / "s.toml").write_text(SCENARIO.replace(*change))
    result = simulate(load_scenario(tmp_path / "s.toml"), replications=1)
    for path in write_traces(result, tmp_path):
        checked = check_trace(path)
        assert checked.passed and checked.contacts > 50, checked.failures[:3]
