"""The random mode hunts bugs: with exactly the CLI's defaults (size and seed) it finds every known
bug of the example implementations, passes the correct ones and reports the coverage it reached.

``TRANSFER_SIM_SLOW=1`` adds a larger budget: every Python bug found with five other seeds at the
default size, and the correct Python example passing 2,000 timelines.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.cli.statechart import conform_cmd
from model.conformance import ExecAdapter, ModelAdapter, PythonAdapter, load_suite, run_case
from model.conformance import command
from model.conformance import random_walk as walk
from model.conformance.goals import CONFIGS, DIMENSIONS, Tracer, all_goals
from model.conformance.random_mode import DEFAULT_MAX_EXAMPLES, DEFAULT_MAX_STEPS, RandomResult, random_check

ROOT = Path(__file__).resolve().parents[1]
PY_IMPL = ROOT / "examples/conformance/python/impl.py"
JS_IMPL = ROOT / "examples/conformance/js/impl.js"
SLOW = bool(os.environ.get("TRANSFER_SIM_SLOW"))
needs_node = pytest.mark.requires_tool("node", hint="the JavaScript example needs Node: run 'make system-deps' as root")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_random_example_impl", PY_IMPL)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXAMPLE = _load_example()
BUGS = sorted(EXAMPLE.BUGS)
NEW_BUGS = ("timer_reset_on_reoffer", "close_during_transfer")


@pytest.fixture(scope="module")
def correct_python_run() -> RandomResult:
    """The default random run (the CLI's size and seed) against the correct Python example."""
    return random_check(PythonAdapter(EXAMPLE.TransferImpl()))


def _sends(result: RandomResult) -> list[dict]:
    assert result.case is not None
    return [s for s in result.case["steps"] if "expect" not in s]


# -- the defaults are the CLI's ------------------------------------------------------------------


def test_the_defaults_tested_here_are_the_clis():
    options = inspect.signature(conform_cmd).parameters
    assert options["max_examples"].default.default == DEFAULT_MAX_EXAMPLES
    assert options["max_steps"].default.default == DEFAULT_MAX_STEPS
    assert options["seed"].default.default is None  # repeatable: Hypothesis derandomized
    conform = inspect.signature(command.conform).parameters
    assert conform["max_examples"].default == DEFAULT_MAX_EXAMPLES
    assert conform["max_steps"].default == DEFAULT_MAX_STEPS
    check = inspect.signature(random_check).parameters
    assert check["max_examples"].default == DEFAULT_MAX_EXAMPLES and check["seed"].default is None


def test_both_new_bugs_are_switches_of_both_examples():
    assert set(NEW_BUGS) <= set(BUGS)
    js = JS_IMPL.read_text()
    assert all(f"{bug}:" in js for bug in BUGS), "the JavaScript example lacks a bug switch of the Python one"


# -- the correct implementations pass, with the coverage reached ----------------------------------


def test_the_correct_python_example_passes_the_default_run(correct_python_run):
    r = correct_python_run
    assert r.passed and r.case is None
    assert r.examples >= DEFAULT_MAX_EXAMPLES and r.contacts > r.examples  # new contacts within a timeline


def test_the_default_run_reports_what_it_reached(correct_python_run):
    cov = correct_python_run.coverage
    assert list(cov) == list(DIMENSIONS)
    for c in cov.values():
        assert c["covered"] + len(c["not_covered"]) == c["total"]
        assert set(c["unreachable"]) <= set(c["not_covered"])
    assert cov["states"]["covered"] == cov["states"]["total"]
    assert cov["transitions"]["covered"] == cov["transitions"]["total"]
    # several holders: every event naming a holder while another holds an offer too
    assert cov["situations"]["not_covered"] == []
    reached = {d: set(all_goals()[d]) - set(c["not_covered"]) for d, c in cov.items()}
    # deadlines hit exactly, a re-offer a second later, wrong-state events
    assert "transfer timer (abandon): accept at the deadline" in reached["timer_boundaries"]
    assert "dissuasion timer: assign at the deadline" in reached["timer_boundaries"]
    assert "transfer timer: not reset by a second later offer" in reached["timer_boundaries"]
    assert {"routing: close", "offered: close", "transfer_expired: accept"} <= reached["refused_events"]


# -- every known bug is found with the defaults ---------------------------------------------------


@pytest.mark.parametrize("bug", BUGS)
def test_the_default_run_finds_each_python_bug(bug):
    adapter = PythonAdapter(EXAMPLE.TransferImpl(bug))
    result = random_check(adapter)
    assert not result.passed, f"the default random run missed {bug}"
    # with margin (the slowest default find is at 41): without the walk's bias toward several holders and
    # re-offers, offers_kept_after_accept, reject_keeps_agent and timer_reset_on_reoffer were found only after
    # 130, 196 and 261 timelines, and some of 21 seeds missed the first two
    assert result.examples <= DEFAULT_MAX_EXAMPLES // 3, f"{bug} found late ({result.examples} timelines)"
    assert result.replay is not None and not result.replay.passed  # the minimal case fails on replay
    assert run_case(PythonAdapter(EXAMPLE.TransferImpl()), result.case).passed  # ... and is the bug's
    assert len(_sends(result)) <= 8


@needs_node
@pytest.mark.parametrize("bug", [None, *BUGS])
def test_the_default_run_against_the_js_example(bug):
    adapter = ExecAdapter(["node", str(JS_IMPL)] + (["--bug", bug] if bug else []))
    try:
        result = random_check(adapter)
    finally:
        adapter.close()
    if bug is None:
        assert result.passed, result.message
    else:
        assert not result.passed, f"the default random run missed JS {bug}"
        assert result.examples <= DEFAULT_MAX_EXAMPLES // 3, f"JS {bug} found late ({result.examples} timelines)"
        assert result.replay is not None and result.replay.failure.error is None


def test_the_new_bugs_shrink_to_their_story():
    close = random_check(PythonAdapter(EXAMPLE.TransferImpl("close_during_transfer")))
    assert [s.get("send") for s in _sends(close)] == ["assign", "request_transfer", "close"]
    reoffer = random_check(PythonAdapter(EXAMPLE.TransferImpl("timer_reset_on_reoffer")))
    kinds = [s.get("send", "advance") for s in _sends(reoffer)]
    # a first offer, time passing, the offer back (reject, offer timeout or withdraw), a second offer,
    # then the clock reaching the transfer's first deadline
    assert kinds.count("offer") == 2 and kinds[-1] == "advance"
    assert any(k in kinds for k in ("reject", "offer_timeout", "withdraw"))


@pytest.mark.skipif(not SLOW, reason="larger budget: TRANSFER_SIM_SLOW=1")
@pytest.mark.parametrize("bug", BUGS)
def test_each_python_bug_is_found_with_other_seeds_too(bug):
    for seed in range(5):
        result = random_check(PythonAdapter(EXAMPLE.TransferImpl(bug)), seed=seed)
        assert not result.passed, f"seed {seed} missed {bug}"


@pytest.mark.skipif(not SLOW, reason="larger budget: TRANSFER_SIM_SLOW=1")
def test_the_correct_python_example_passes_a_long_run():
    assert random_check(PythonAdapter(EXAMPLE.TransferImpl()), max_examples=2000).passed


# -- the walk's moves, read from the model ---------------------------------------------------------


def _transfer(config: dict, at: float = 3.0) -> Tracer:
    t = Tracer(config)
    t.send("assign", {"agent": "a1"})
    t.advance(at)
    t.send("request_transfer", {"target": "billing"})
    return t


def test_advances_land_on_the_models_deadline():
    t = _transfer(CONFIGS["abandon"])  # requested at t = 3 with a 10 s transfer timer
    assert walk.pending_deadlines(t.contact) == [13.0]
    got = {k: walk.deadline_advance(t.contact, k) for k in set(walk.DEADLINE_KINDS)}
    assert got == {"at": 10.0, "just before": 9.875, "just after": 10.125, "part way": 5.0}
    assert walk.plan("deadline", t.contact, CONFIGS["abandon"], walk.sends_for(CONFIGS["abandon"]), 0, "at") == [10.0]


def test_no_timer_running_means_no_advance():
    t = Tracer(CONFIGS["return"])  # no dissuasion timer
    sends = walk.sends_for(CONFIGS["return"])
    assert walk.pending_deadlines(t.contact) == []
    assert walk.plan("deadline", t.contact, CONFIGS["return"], sends, 0, "at") == [("assign", {"agent": "a1"})]


def test_churn_takes_the_offer_back_and_offers_again():
    config = CONFIGS["abandon"]
    t = _transfer(config)
    t.send("offer", {"agents": ["b1"]})
    sends = walk.sends_for(config)
    steps = [walk.churn(t.contact, sends, i) for i in range(64)]
    assert {s[0][0] for s in steps} == {"reject", "offer_timeout", "withdraw"}
    assert all(s[-1][0] == "offer" for s in steps)
    assert any(1.0 in s for s in steps)  # sometimes a second passes before the re-offer


def test_several_goes_for_the_biggest_target_then_offers_everyone():
    config = CONFIGS["abandon"]
    sends = walk.sends_for(config)
    t = Tracer(config)
    t.send("assign", {"agent": "a1"})
    assert walk.several(t.contact, config, sends, 0) == ("request_transfer", {"target": "billing", "message": "billing question"})
    t.send("request_transfer", {"target": "billing"})
    assert walk.several(t.contact, config, sends, 0) == ("offer", {"agents": ["b1", "b2"]})
    t.send("offer", {"agents": ["b1", "b2"]})
    answers = {_key(walk.several(t.contact, config, sends, i)) for i in range(8)}
    assert answers == {(e, a) for e in ("accept", "reject", "offer_timeout", "withdraw") for a in ("b1", "b2")}


def _key(send: walk.Send | None) -> tuple[str, str]:
    assert send is not None
    return send[0], send[1]["agent"]


def test_wrong_events_include_stale_ones_and_failing_guards():
    assert {"close", "request_transfer"} <= walk.stale_events("routing")
    assert "accept" in walk.stale_events("transfer_expired")
    config = CONFIGS["abandon"]
    t = _transfer(config)
    refused = [walk.wrong(t.contact, walk.sends_for(config), i) for i in range(64)]
    assert ("close", {}) in refused and ("offer", {"agents": ["a1"]}) in refused  # stale; a failing guard
    assert all(s is not None and walk.would_take(t.contact, *s) is None for s in refused)


def test_the_model_finds_no_difference_with_itself():
    assert random_check(ModelAdapter("compiled"), max_examples=30).passed


# -- the CLI ----------------------------------------------------------------------------------------


def test_cli_random_prints_the_walks_coverage_and_writes_the_case(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFORMANCE_BUG", "close_during_transfer")
    out = tmp_path / "min.json"
    res = CliRunner().invoke(
        app, ["conform", "--adapter", f"python:{PY_IMPL}:TransferImpl", "--random", "--out", str(out), "--verbose"]
    )
    assert res.exit_code == 1, res.output
    assert "disagreement found in timeline" in res.output and "coverage of the random walk until then" in res.output
    assert "timer_boundaries" in res.output and "not covered:" in res.output
    case = load_suite(out)["cases"][0]
    assert [s["send"] for s in case["steps"] if "send" in s] == ["assign", "request_transfer", "close"]


def test_cli_random_passing_run_prints_coverage():
    res = CliRunner().invoke(app, ["conform", "--adapter", "model", "--random", "--max-examples", "10", "--max-steps", "8"])
    assert res.exit_code == 0, res.output
    assert "up to 10 random timelines of 8 steps" in res.output and "no disagreement found in" in res.output
    assert "coverage of the random walk:" in res.output and "states" in res.output
