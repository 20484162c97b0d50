"""The conformance kit: generated suite, adapters, runner, random mode, and proof that it catches bugs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.conformance import (
    ExecAdapter,
    ModelAdapter,
    PythonAdapter,
    SuiteError,
    adapter_from_spec,
    default_suite,
    format_failure,
    load_suite,
    run_case,
    run_suite,
    suite_coverage,
)
from model.conformance.pytest import check_case, conformance_cases
from model.conformance.random_mode import random_check
from model.conformance.suite import DIMENSIONS, all_goals, dump_suite

ROOT = Path(__file__).resolve().parents[1]
PY_IMPL = ROOT / "examples/conformance/python/impl.py"
JS_IMPL = ROOT / "examples/conformance/js/impl.js"
NODE = shutil.which("node")
needs_node = pytest.mark.requires_tool("node", hint="the JavaScript example needs Node: run 'make system-deps' as root")


def _load_example():
    spec = importlib.util.spec_from_file_location("conformance_example_impl", PY_IMPL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXAMPLE = _load_example()
BUGS = sorted(EXAMPLE.BUGS)
REQUIRED_BUGS = {
    "accept_at_deadline",
    "reject_keeps_agent",
    "timer_reset_on_offer",
    "self_transfer",
    "offers_kept_after_accept",
    "leave_transfer_completed",
    "withdraw_excludes_agent",
}


@pytest.fixture(scope="module")
def suite():
    return default_suite()


def _cases(suite):
    return {c["id"]: c for c in suite["cases"]}


# -- the generated suite ---------------------------------------------------------------------


def test_suite_reaches_every_reachable_goal(suite):
    cov = suite["coverage"]
    assert list(cov) == list(DIMENSIONS)
    for dim in DIMENSIONS:
        assert cov[dim]["not_covered"] == cov[dim]["unreachable"], dim
    assert {d: (c["covered"], c["total"]) for d, c in cov.items()} == {
        "states": (9, 9),
        "transitions": (18, 18),
        "transition_pairs": (43, 44),
        "guards": (30, 32),
        "guard_conditions": (9, 11),
        "situations": (7, 7),
        "refused_events": (84, 84),
        "timer_boundaries": (59, 59),
    }


def test_only_the_deadline_guards_and_availability_are_unreachable(suite):
    # timers due at an instant fire before events at that instant, so these guards never fail;
    # a suite's configuration has every agent available (availability is the engine's slots);
    # two withdraws that both leave an offer outstanding need three holders (billing has two)
    assert suite["generator"]["unreachable"] == {
        "transition_pairs": ["offered --withdraw--> offered ; offered --withdraw--> offered"],
        "guards": [
            "queued --assign--> engaged [before_dissuasion_deadline=false]",
            "offered --accept--> engaged [before_transfer_deadline=false]",
        ],
        "guard_conditions": [
            "agent_is_free: fails on 'the agent is available'",
            "agents_are_eligible: fails on 'every agent is available'",
        ],
    }


def test_goals_are_derived_from_the_chart():
    from model.lifecycle import transitions

    from model.lifecycle import CLAUSES, GUARDS, TIMERS

    goals = all_goals()
    assert len(goals["guards"]) == 2 * sum(len(t.guards) for t in transitions())
    assert "offered --accept--> engaged" in goals["transitions"]
    assert "completed: close" in goals["refused_events"]
    # one goal per clause of every guard that has several, plus one and several agents offered
    assert len(goals["guard_conditions"]) == sum(len(CLAUSES[g]) for g in GUARDS if len(CLAUSES[g]) > 1) + 2
    assert "target_is_valid: fails on 'the target is not the owner itself'" in goals["guard_conditions"]
    assert "agents_are_eligible: holds for several agents at once" in goals["guard_conditions"]
    # timer goals follow the timers: each racing event at three instants, per policy when it matters
    assert "transfer timer (return): accept at the deadline" in goals["timer_boundaries"]
    assert "dissuasion timer: assign just before the deadline" in goals["timer_boundaries"]
    assert "transfer timer: not reset by a later reject" in goals["timer_boundaries"]
    assert set(TIMERS) == {"dissuade", "transfer_timeout"}


def test_accept_at_exact_deadline_case_expects_the_timer_to_win(suite):
    from model.conformance.suite import _case_goals

    goal = ("timer_boundaries", "transfer timer (abandon): accept at the deadline")
    case = next(c for c in suite["cases"] if goal in _case_goals(c))
    t, seen = 0.0, False
    for i, step in enumerate(case["steps"]):
        t += step.get("advance", 0.0)
        if step.get("send") == "accept" and t == 10.0:
            expect = case["steps"][i + 1]["expect"]
            assert expect["state"] == "transfer_expired" and expect["refused"] is True
            seen = True
    assert seen


def test_suite_round_trips_through_json_and_validates(tmp_path, suite):
    path = dump_suite(suite, tmp_path / "suite.json")
    again = load_suite(path)
    assert again["cases"] == suite["cases"]
    assert suite_coverage(again) == suite["coverage"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.update(version=99), "version"),
        (lambda s: s.update(schema="other"), "schema"),
        (lambda s: s["cases"][0]["steps"].append({"advance": -1}), "advance"),
        (lambda s: s["cases"][0]["steps"].append({"expect": {"colour": "red"}}), "expect"),
    ],
)
def test_invalid_suites_are_refused_with_the_place(tmp_path, suite, mutate, message):
    bad = json.loads(json.dumps(suite))
    mutate(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(SuiteError, match=message):
        load_suite(path)


# -- the model passes through both adapters ----------------------------------------------------


@pytest.mark.parametrize("engine", ["chart", "compiled"])
def test_model_passes_through_the_python_adapter(suite, engine):
    assert run_suite(ModelAdapter(engine), suite).passed


def test_model_passes_through_the_exec_adapter(suite):
    adapter = ExecAdapter([sys.executable, "-m", "model.conformance.serve"], cwd=ROOT)
    try:
        assert run_suite(adapter, suite).passed
    finally:
        adapter.close()


# -- the independent examples pass, every wrong variant is caught ----------------------------


def test_at_least_the_six_required_bug_variants_exist():
    assert REQUIRED_BUGS <= set(BUGS)


def test_python_example_passes(suite):
    assert run_suite(PythonAdapter(EXAMPLE.TransferImpl()), suite).passed


@pytest.mark.parametrize("bug", BUGS)
def test_python_variant_is_caught_with_a_readable_first_difference(suite, bug):
    result = run_suite(PythonAdapter(EXAMPLE.TransferImpl(bug)), suite)
    assert not result.passed, f"{bug} was not caught"
    first = result.failures[0]
    text = format_failure(_cases(suite)[first.case_id], first)
    assert "first difference at step" in text and "expected" in text and "observed" in text


def test_python_example_through_exec(suite):
    adapter = ExecAdapter([sys.executable, str(PY_IMPL), "--bug", "self_transfer"])
    try:
        result = run_suite(adapter, suite)
    finally:
        adapter.close()
    assert [r.case_id for r in result.failures] == ["guards-003"]


@needs_node
@pytest.mark.parametrize("bug", [None, *BUGS])
def test_js_example(suite, bug):
    adapter = ExecAdapter(["node", str(JS_IMPL)] + (["--bug", bug] if bug else []))
    try:
        result = run_suite(adapter, suite)
    finally:
        adapter.close()
    if bug is None:
        assert result.passed, format_failure(_cases(suite)[result.failures[0].case_id], result.failures[0])
    else:
        assert not result.passed, f"JS variant {bug} was not caught"
        assert all(r.failure.error is None for r in result.failures)


def test_exec_adapter_reports_a_crashing_program():
    adapter = ExecAdapter([sys.executable, "-c", "import sys; sys.stdin.readline(); print('not json')"])
    try:
        result = run_case(adapter, default_suite()["cases"][0])
    finally:
        adapter.close()
    assert not result.passed and "not JSON" in result.failure.error


# -- random mode -------------------------------------------------------------------------------


def test_random_mode_finds_no_difference_for_the_model():
    assert random_check(ModelAdapter("compiled"), max_examples=15).passed


def test_random_mode_shrinks_a_bug_to_a_minimal_replayable_case(tmp_path):
    adapter = PythonAdapter(EXAMPLE.TransferImpl("self_transfer"))
    result = random_check(adapter, max_examples=60)
    assert not result.passed
    sends = [s for s in result.case["steps"] if "expect" not in s]
    assert sends == [
        {"send": "assign", "data": {"agent": "a1"}},
        {"send": "request_transfer", "data": {"target": "agent:a1"}},
    ]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(result.suite()))
    replay = run_suite(adapter, load_suite(path))
    assert not replay.passed
    assert run_suite(PythonAdapter(EXAMPLE.TransferImpl()), load_suite(path)).passed


# -- CLI and pytest entry point --------------------------------------------------------------


def test_cli_passes_the_correct_example_and_prints_coverage():
    res = CliRunner().invoke(app, ["conform", "--adapter", f"python:{PY_IMPL}:TransferImpl"])
    assert res.exit_code == 0, res.output
    assert "0 failed" in res.output and "timer_boundaries" in res.output and "59/59" in res.output


@needs_node
def test_cli_fails_a_wrong_js_variant_with_exit_status_1():
    res = CliRunner().invoke(app, ["conform", "--adapter", f"exec:node {JS_IMPL} --bug accept_at_deadline"])
    assert res.exit_code == 1
    assert "first difference at step" in res.output


def test_cli_random_mode_writes_the_minimal_case(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFORMANCE_BUG", "self_transfer")
    out = tmp_path / "min.json"
    res = CliRunner().invoke(
        app,
        ["conform", "--adapter", f"python:{PY_IMPL}:TransferImpl", "--random", "--max-examples", "60", "--out", str(out)],
    )
    assert res.exit_code == 1, res.output
    assert load_suite(out)["cases"][0]["id"] == "random-minimal"


def test_cli_bad_adapter_is_a_usage_error():
    res = CliRunner().invoke(app, ["conform", "--adapter", "nonsense"])
    assert res.exit_code == 2


def test_adapter_spec_forms():
    assert isinstance(adapter_from_spec("model"), ModelAdapter)
    assert isinstance(adapter_from_spec(f"python:{PY_IMPL}:TransferImpl"), PythonAdapter)
    assert isinstance(adapter_from_spec("exec:node impl.js"), ExecAdapter)


@pytest.mark.parametrize("case", conformance_cases()[:20])
def test_pytest_entry_point(case):
    check_case(EXAMPLE.TransferImpl(), case)


def test_pytest_entry_point_fails_with_the_difference():
    case = next(c.values[0] for c in conformance_cases() if c.values[0]["id"] == "guards-003")
    with pytest.raises(pytest.fail.Exception, match="first difference"):
        check_case(EXAMPLE.TransferImpl("self_transfer"), case)


SUITE_DIGEST = "2e1eeb3387620d56adca45f376ea0fe8fde8521f92820837f538035a646e2b05"


def test_the_generated_suite_is_pinned():
    """The generator is deterministic, and a refactoring must not change what it generates.

    A change of the chart, the clauses, the timers or the palette changes the suite on purpose:
    then print the new digest (below) and update SUITE_DIGEST, saying why in the commit.
    """
    import hashlib
    import json

    from model.conformance.suite import generate_suite

    got = hashlib.sha256(json.dumps(generate_suite(), sort_keys=True).encode()).hexdigest()
    assert got == SUITE_DIGEST, f"the generated suite changed: new digest {got}"


class _DisposeFails(ModelAdapter):
    def dispose(self) -> None:
        raise RuntimeError("socket already closed")


def test_a_failing_dispose_is_reported_not_swallowed(suite):
    res = run_case(_DisposeFails(engine="compiled"), suite["cases"][0])
    assert not res.passed and "dispose failed: RuntimeError: socket already closed" in res.failure.error


def test_random_mode_reports_a_failing_dispose():
    res = random_check(_DisposeFails(engine="compiled"), max_examples=3, max_steps=3)
    assert not res.passed and "socket already closed" in res.message
    assert "dispose failed" in res.replay.failure.error  # the minimal case replays it
