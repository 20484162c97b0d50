"""The lifecycle's edges (LIFECYCLE.md "Timers" and "Staffing over the day", the broadcast rule),
as hand-written cases: expectations written from the spec, not observed on the model.

Each case runs on the model (both engines, through the adapter API, ``transfer-sim conform
--adapter model`` and directly on :class:`model.lifecycle.Contact`) and on both example
implementations. Then the generated suite is shown to hold a case for each edge (a goal named
for it) and to catch an implementation that is wrong at that edge.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.conformance import ExecAdapter, ModelAdapter, PythonAdapter, format_failure, run_case, run_suite
from model.conformance.suite import default_suite, dump_suite, suite_coverage
from model.lifecycle import Contact, EventNotAllowed, TransferRules

ROOT = Path(__file__).resolve().parents[1]
PY_IMPL = ROOT / "examples/conformance/python/impl.py"
JS_IMPL = ROOT / "examples/conformance/js/impl.js"
needs_node = pytest.mark.requires_tool("node", hint="the JavaScript example needs Node: run 'make system-deps' as root")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_edges_example_impl", PY_IMPL)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXAMPLE = _load_example()

# -- the cases, written from LIFECYCLE.md ------------------------------------------------------

TARGETS = {"sales": ["a1"], "billing": ["b1", "b2"], "night": []}
BASE: dict[str, Any] = {"transfer_timeout": 10.0, "dissuasion_timeout": None, "on_transfer_timeout": "abandon",
                        "targets": TARGETS}


def see(state: str, owner: str | None = None, offered: tuple[str, ...] = (), count: int = 0,
        refused: bool | None = None) -> dict[str, Any]:
    """An ``expect`` step: the whole observation (and whether the last send was refused)."""
    exp: dict[str, Any] = {"state": state, "owner": owner, "offered": list(offered), "transfer_count": count}
    if refused is not None:
        exp["refused"] = refused
    return {"expect": exp}


def send(event: str, **data: Any) -> dict[str, Any]:
    return {"send": event, "data": data}


def wait(seconds: float) -> dict[str, Any]:
    return {"advance": seconds}


ASSIGNED = [send("assign", agent="a1"), see("engaged", "a1", refused=False)]
ROUTING = [*ASSIGNED, send("request_transfer", target="billing"), see("routing", refused=False)]
BOTH_OFFERED = [*ROUTING, send("offer", agents=["b1", "b2"]), see("offered", offered=("b1", "b2"), refused=False)]

EDGES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "dissuasion 0: dissuaded on arrival; an assign at t = 0 is refused": (
        {**BASE, "dissuasion_timeout": 0}, [
            see("dissuaded"),
            send("assign", agent="a1"), see("dissuaded", refused=True),
            send("customer_leave"), see("dissuaded", refused=True),
            wait(0), see("dissuaded"),
        ]),
    "transfer 0 (abandon): the request expires at once; offer and accept then are refused": (
        {**BASE, "transfer_timeout": 0}, [
            *ASSIGNED,
            send("request_transfer", target="billing"), see("transfer_expired", refused=False),
            send("offer", agents=["b1"]), see("transfer_expired", refused=True),
            send("accept", agent="b1"), see("transfer_expired", refused=True),
        ]),
    "transfer 0 (return): the request goes back to engaged at once; offer and accept then are refused": (
        {**BASE, "transfer_timeout": 0, "on_transfer_timeout": "return"}, [
            *ASSIGNED,
            send("request_transfer", target="billing"), see("engaged", "a1", refused=False),
            send("offer", agents=["b1"]), see("engaged", "a1", refused=True),
            send("accept", agent="b1"), see("engaged", "a1", refused=True),
            wait(0), see("engaged", "a1"),
        ]),
    "a group with nobody in it is a target: the transfer waits in routing until its timer": (
        BASE, [
            *ASSIGNED,
            send("request_transfer", target="night"), see("routing", refused=False),
            send("offer", agents=["b1"]), see("routing", refused=True),  # b1 is not in night
            wait(9.875), see("routing"),
            wait(0.125), see("transfer_expired"),
        ]),
    "a group with nobody in it, policy return: back to the requester at the deadline": (
        {**BASE, "on_transfer_timeout": "return"}, [
            *ASSIGNED,
            send("request_transfer", target="night"), see("routing", refused=False),
            wait(10), see("engaged", "a1"),
        ]),
    "advance 0 with no timer due changes nothing, in every live state": (
        {**BASE, "dissuasion_timeout": 5}, [
            see("queued"), wait(0), see("queued"),
            *ASSIGNED, wait(0), see("engaged", "a1"),
            send("request_transfer", target="billing"), see("routing", refused=False), wait(0), see("routing"),
            send("offer", agents=["b1"]), see("offered", offered=("b1",), refused=False),
            wait(0), see("offered", offered=("b1",)),
        ]),
    "advance 0 at a deadline changes nothing more: the timer fired once": (
        {**BASE, "dissuasion_timeout": 5}, [
            wait(5), see("dissuaded"), wait(0), see("dissuaded"),
        ]),
    "advance 0 at the transfer deadline, policy return: the requester gets it back once": (
        {**BASE, "on_transfer_timeout": "return"}, [
            *ROUTING, wait(10), see("engaged", "a1"), wait(0), see("engaged", "a1"),
            send("close"), see("completed", refused=False),
        ]),
    "withdraw of one of several offers keeps offered; of the last goes to routing; nobody excluded": (
        BASE, [
            *BOTH_OFFERED,
            send("withdraw", agent="b1"), see("offered", offered=("b2",), refused=False),
            send("accept", agent="b1"), see("offered", offered=("b2",), refused=True),
            send("withdraw", agent="b2"), see("routing", refused=False),
            send("offer", agents=["b1", "b2"]), see("offered", offered=("b1", "b2"), refused=False),
        ]),
    "reject while two agents hold the offer: every offer is withdrawn, only the rejecter is excluded": (
        BASE, [
            *BOTH_OFFERED,
            send("reject", agent="b1"), see("routing", refused=False),
            send("accept", agent="b2"), see("routing", refused=True),
            send("offer", agents=["b1"]), see("routing", refused=True),
            send("offer", agents=["b2"]), see("offered", offered=("b2",), refused=False),
            send("accept", agent="b2"), see("engaged", "b2", count=1, refused=False),
        ]),
    "offer_timeout while two agents hold the offer: every offer is withdrawn, nobody is excluded": (
        BASE, [
            *BOTH_OFFERED,
            send("offer_timeout", agent="b1"), see("routing", refused=False),
            send("offer", agents=["b1", "b2"]), see("offered", offered=("b1", "b2"), refused=False),
        ]),
    "accept while two agents hold the offer: the other offer is withdrawn": (
        BASE, [
            *BOTH_OFFERED,
            send("accept", agent="b2"), see("engaged", "b2", count=1, refused=False),
            send("reject", agent="b1"), see("engaged", "b2", count=1, refused=True),
        ]),
    "a group's name wins over agent:NAME; agent:NAME of an agent in no group and other prefixes are unknown": (
        {**BASE, "targets": {**TARGETS, "agent:b1": ["b2"]}}, [
            *ASSIGNED,
            send("request_transfer", target="agent:zz"), see("engaged", "a1", refused=True),
            send("request_transfer", target="group:billing"), see("engaged", "a1", refused=True),
            send("request_transfer", target="agent:b1"), see("routing", refused=False),
            send("offer", agents=["b1"]), see("routing", refused=True),
            send("offer", agents=["b2"]), see("offered", offered=("b2",), refused=False),
        ]),
    "a config without targets accepts any target and any agent (not the owner itself)": (
        {k: v for k, v in BASE.items() if k != "targets"}, [
            *ASSIGNED,
            send("request_transfer", target="agent:a1"), see("engaged", "a1", refused=True),
            send("request_transfer", target="anything"), see("routing", refused=False),
            send("offer", agents=["zz"]), see("offered", offered=("zz",), refused=False),
        ]),
    "assign {} is refused; timer events sent are refused; offer_timeout is the driver's": (
        {**BASE, "dissuasion_timeout": 5}, [
            send("assign"), see("queued", refused=True),
            wait(1), send("dissuade"), see("queued", refused=True),
            *ROUTING[:2], send("request_transfer", target="billing"), see("routing", refused=False),
            send("transfer_timeout"), see("routing", refused=True),
            send("offer", agents=["b1"]), see("offered", offered=("b1",), refused=False),
            send("offer_timeout", agent="b1"), see("routing", refused=False),
        ]),
}


def edge_suite() -> dict[str, Any]:
    cases = [{"id": f"edge-{i + 1:02d}", "title": title, "config": config, "steps": steps}
             for i, (title, (config, steps)) in enumerate(EDGES.items())]
    return {"schema": "transfer-sim/conformance-suite", "version": 1, "cases": cases}


def _check(adapter: Any, case: dict[str, Any]) -> None:
    result = run_case(adapter, case)
    assert result.passed, format_failure(case, result)


CASES = edge_suite()["cases"]
IDS = [c["title"].split(":")[0] for c in CASES]


# -- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["chart", "compiled"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_model_follows_the_spec_at_each_edge(case: dict[str, Any], engine: str) -> None:
    _check(ModelAdapter(engine), case)


def test_conform_with_the_model_passes_the_edges(tmp_path: Path) -> None:
    path = dump_suite(edge_suite(), tmp_path / "edges.json")
    res = CliRunner().invoke(app, ["conform", "--adapter", "model", "--suite", str(path), "--verbose"])
    assert res.exit_code == 0, res.output
    assert f"{len(CASES)} passed, 0 failed" in res.output


@pytest.mark.parametrize("engine", ["chart", "compiled"])
def test_contact_zero_length_timers_fire_as_they_start(engine: str) -> None:
    c = Contact(TransferRules(dissuasion_timeout=0.0), now=3.0, engine=engine)  # type: ignore[arg-type]
    assert c.state == "dissuaded" and c.fired == [(3.0, "dissuade")]
    with pytest.raises(EventNotAllowed, match="'dissuaded'"):
        c.send("assign", agent="a")
    for policy, after in (("abandon", "transfer_expired"), ("return", "engaged")):
        c = Contact(TransferRules(transfer_timeout=0.0, on_transfer_timeout=policy), engine=engine)  # type: ignore[arg-type]
        c.send("assign", agent="a", now=1.0)
        assert c.send("request_transfer", target="g", now=2.0) == after
        assert c.fired == [(2.0, "transfer_timeout")] and c.data.owner == ("a" if policy == "return" else None)
        with pytest.raises(EventNotAllowed):
            c.send("offer", agents=["b"])
        assert c.advance(2.0) == [] and c.state == after  # advance to now: nothing more


@pytest.mark.parametrize("engine", ["chart", "compiled"])
def test_contact_a_group_with_nobody_in_it_is_a_target(engine: str) -> None:
    rules = TransferRules(targets={"sales": frozenset({"a"}), "night": frozenset()})
    assert rules.knows("night") and not rules.knows("nowhere") and not rules.knows("agent:zz")
    assert rules.knows("agent:a") and TransferRules().knows("anything")
    c = Contact(rules, engine=engine)  # type: ignore[arg-type]
    c.send("assign", agent="a")
    assert c.send("request_transfer", target="night") == "routing"
    with pytest.raises(EventNotAllowed, match="every agent is in the target"):
        c.send("offer", agents=["a"])
    assert c.advance(60.0) == [(60.0, "transfer_timeout")] and c.state == "transfer_expired"


@pytest.mark.parametrize("engine", ["chart", "compiled"])
def test_contact_broadcast_reject_withdraws_every_offer_and_excludes_the_rejecter(engine: str) -> None:
    c = Contact(TransferRules(targets={"sales": frozenset({"a"}), "g": frozenset({"b", "c"})}), engine=engine)  # type: ignore[arg-type]
    c.send("assign", agent="a")
    c.send("request_transfer", target="g")
    c.send("offer", agents=["b", "c"])
    assert c.send("reject", agent="b") == "routing"
    assert c.data.offered == set() and c.data.rejected == {"b"}
    assert c.send("offer", agents=["c"]) == "offered"


# -- the example implementations ----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_python_example_follows_the_spec_at_each_edge(case: dict[str, Any]) -> None:
    _check(PythonAdapter(EXAMPLE.TransferImpl()), case)


def test_the_python_example_through_exec_follows_the_edges() -> None:
    adapter = ExecAdapter([sys.executable, str(PY_IMPL)])
    try:
        result = run_suite(adapter, edge_suite())
    finally:
        adapter.close()
    assert result.passed, [r.case_id for r in result.failures]


@needs_node
def test_the_js_example_follows_the_spec_at_each_edge() -> None:
    adapter = ExecAdapter(["node", str(JS_IMPL)])
    try:
        result = run_suite(adapter, edge_suite())
    finally:
        adapter.close()
    cases = {c["id"]: c for c in CASES}
    assert result.passed, "\n\n".join(format_failure(cases[r.case_id], r) for r in result.failures)


# -- the generated suite tests each edge ---------------------------------------------------------

EDGE_GOALS = [
    ("timer_boundaries", "dissuasion timer: of length 0, assign at the instant it starts"),
    ("timer_boundaries", "dissuasion timer: of length 0, customer_leave at the instant it starts"),
    ("timer_boundaries", "transfer timer (abandon): of length 0, offer at the instant it starts"),
    ("timer_boundaries", "transfer timer (return): of length 0, offer at the instant it starts"),
    ("timer_boundaries", "transfer timer (abandon): of length 0, customer_leave at the instant it starts"),
    ("timer_boundaries", "transfer timer (return): of length 0, customer_leave at the instant it starts"),
    ("timer_boundaries", "advance 0: no timer due at this instant"),
    ("timer_boundaries", "dissuasion timer: advance 0 at the deadline"),
    ("timer_boundaries", "transfer timer: advance 0 at the deadline"),
    ("timer_boundaries", "transfer timer: not reset by a second later offer"),
    ("situations", "request_transfer: to a group with nobody in it (nobody on shift)"),
    ("situations", "accept: while another agent also holds the offer"),
    ("situations", "reject: while another agent also holds the offer"),
    ("situations", "offer_timeout: while another agent also holds the offer"),
    ("situations", "withdraw: while another agent also holds the offer"),
]
WITHDRAW_AMONG_SEVERAL = EDGE_GOALS[-1]


@pytest.fixture(scope="module")
def suite() -> dict[str, Any]:
    return default_suite()


def test_the_generated_suite_has_a_case_for_each_edge(suite: dict[str, Any]) -> None:
    from model.conformance.suite import _case_goals

    reached = [_case_goals(c) for c in suite["cases"]]
    titles = {c["title"] for c in suite["cases"]}
    for goal in EDGE_GOALS:
        assert any(goal in r for r in reached), goal
        # a case of its own, unless an earlier case reaches it (withdraw among several holders
        # is the transition offered --withdraw--> offered)
        assert ": ".join(goal) in titles or goal == WITHDRAW_AMONG_SEVERAL, goal
    assert ": ".join(WITHDRAW_AMONG_SEVERAL) not in titles
    assert "transitions: offered --withdraw--> offered" in titles
    zero = [c for c in suite["cases"] if "of length 0" in c["title"]]
    assert {c["config"]["transfer_timeout"] for c in zero if "transfer" in c["title"]} == {0.0}
    assert {c["config"]["dissuasion_timeout"] for c in zero if "dissuasion" in c["title"]} == {0.0}
    assert all(c["config"]["transfer_timeout"] == 10.0 for c in suite["cases"] if c not in zero)  # others: ordinary
    assert suite_coverage(suite)["situations"]["not_covered"] == []


def test_conform_verbose_lists_the_edge_goals() -> None:
    res = CliRunner().invoke(app, ["conform", "--adapter", "model", "--verbose"])
    assert res.exit_code == 0, res.output
    for goal in EDGE_GOALS:
        if goal != WITHDRAW_AMONG_SEVERAL:
            assert f"  {': '.join(goal)}\n" in res.output, goal
    assert "situations          7/7" in res.output and "not covered: withdraw" not in res.output


def test_the_zero_length_transfer_case_expects_the_timer_to_have_fired(suite: dict[str, Any]) -> None:
    case = next(c for c in suite["cases"] if c["title"].endswith("(abandon): of length 0, offer at the instant it starts"))
    i = next(i for i, s in enumerate(case["steps"]) if s.get("send") == "request_transfer")
    assert case["steps"][i + 1]["expect"]["state"] == "transfer_expired"
    last = case["steps"][-1]["expect"]
    assert (last["state"], last["refused"]) == ("transfer_expired", True)


class _Lazy(EXAMPLE.TransferImpl):  # type: ignore[misc,name-defined]
    """Fires a timer of length 0 only when time moves on, not at the instant it starts."""

    def create(self, config: dict) -> None:
        self.advance = lambda seconds: None  # type: ignore[method-assign]
        super().create(config)
        del self.advance

    def send(self, event: str, data: dict) -> bool:
        handler = getattr(self, "_on_" + event, None)
        return False if handler is None else bool(handler(**data))


class _NoEmptyGroups(EXAMPLE.TransferImpl):  # type: ignore[misc,name-defined]
    """Refuses a transfer to a group with nobody in it, as if it did not exist."""

    def _known(self, target: str) -> bool:
        return bool(self._members(target)) if self.groups is not None else True


class _RejectOwnOnly(EXAMPLE.TransferImpl):  # type: ignore[misc,name-defined]
    """A broadcast reject withdraws only the rejecter's offer (the others stay offered)."""

    def _on_reject(self, agent: str | None = None, **_: Any) -> bool:
        if not self._holds(agent):
            return False
        self.rejected.add(agent)
        self.offered.discard(agent)
        self.state = "offered" if self.offered else "routing"
        return True


class _TimeoutOwnOnly(EXAMPLE.TransferImpl):  # type: ignore[misc,name-defined]
    """An offer timeout withdraws only that agent's offer (the others stay offered)."""

    def _on_offer_timeout(self, agent: str | None = None, **_: Any) -> bool:
        if not self._holds(agent):
            return False
        self.offered.discard(agent)
        self.state = "offered" if self.offered else "routing"
        return True


class _NoAdvanceZero:
    """Takes ``advance 0`` from the driver as an error (a clock that only moves forward)."""

    def __init__(self) -> None:
        self.impl = EXAMPLE.TransferImpl()

    def create(self, config: dict) -> None:
        self.impl.create(config)

    def send(self, event: str, data: dict) -> bool:
        return bool(self.impl.send(event, data))

    def read(self) -> dict:
        return dict(self.impl.read())

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("advance needs seconds > 0")
        self.impl.advance(seconds)


@pytest.mark.parametrize("wrong, first_goal", [
    (_Lazy, "of length 0"),
    (_NoEmptyGroups, "request_transfer: to a group with nobody in it"),
    (_RejectOwnOnly, "reject: while another agent also holds the offer"),
    (_TimeoutOwnOnly, "offer_timeout: while another agent also holds the offer"),
    (_NoAdvanceZero, "advance 0"),
], ids=lambda x: x.__name__ if isinstance(x, type) else "")
def test_the_generated_suite_catches_an_implementation_wrong_at_an_edge(
    suite: dict[str, Any], wrong: type, first_goal: str
) -> None:
    assert run_suite(PythonAdapter(EXAMPLE.TransferImpl()), suite).passed
    result = run_suite(PythonAdapter(wrong()), suite)
    titles = {c["id"]: c["title"] for c in suite["cases"]}
    failing = [titles[r.case_id] for r in result.failures]
    assert any(first_goal in t for t in failing), failing
