"""Adapters that survive their implementation: hostile programs behind ``exec:``.

Each program here is the independent Python example (examples/conformance/python/impl.py) behind
the JSON-lines protocol, with one misbehaviour: it crashes on the 3rd case, hangs on one step,
prints garbage or an observation of the wrong shape, exits at once, never answers, or writes noise.
Each must give a clear failure of the case it spoiled, within the step timeout, while the other
cases still run; ``conform`` exits 1. Bad input to ``conform`` itself exits 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.conformance import ExecAdapter, adapter_from_spec, run_suite
from model.conformance.adapters import GIVE_UP_AFTER, AdapterError
from model.conformance.suite import CONFIGS, with_expectations
from model.conformance.runner import ON_CREATE, format_failure

ROOT = Path(__file__).resolve().parents[1]
IMPL_DIR = ROOT / "examples/conformance/python"

CONFIG = CONFIGS["abandon"]
TIMELINES = [
    [{"send": "assign", "data": {"agent": "a1"}}, {"send": "close"}],
    [{"send": "assign", "data": {"agent": "a1"}}, {"send": "request_transfer", "data": {"target": "billing"}},
     {"send": "offer", "data": {"agents": ["b1"]}}, {"send": "accept", "data": {"agent": "b1"}}],
    [{"send": "assign", "data": {"agent": "a1"}}, {"send": "request_transfer", "data": {"target": "billing"}},
     {"send": "offer", "data": {"agents": ["b1"]}}, {"send": "reject", "data": {"agent": "b1"}},
     {"send": "offer", "data": {"agents": ["b2"]}}, {"send": "accept", "data": {"agent": "b2"}}],
    [{"advance": 5.0}],
    [{"send": "assign", "data": {"agent": "a1"}}, {"send": "request_transfer", "data": {"target": "billing"}},
     {"advance": 10.0}],
]
SUITE = {
    "schema": "transfer-sim/conformance-suite",
    "version": 1,
    "cases": [{"id": f"case-{i}", "title": f"case {i}", "config": CONFIG, "steps": with_expectations(CONFIG, steps)}
              for i, steps in enumerate(TIMELINES, start=1)],
}
STEP_TIMEOUT = 1.0

# The example implementation behind the protocol; HOOK runs after each request is read, with
# ``op``, ``creates`` (cases begun by this process) and ``once(name)`` (true the first time only,
# over every process of the test: a marker file) in scope.
SERVER = """
import json, os, sys, time
sys.path.insert(0, {impl_dir!r})
from impl import TransferImpl
MARKS = {marks!r}
with open(os.path.join(MARKS, "pids"), "a") as f:
    f.write(f"{{os.getpid()}}\\n")

def once(name):
    path = os.path.join(MARKS, name)
    if os.path.exists(path):
        return False
    open(path, "w").close()
    return True

impl = TransferImpl()
creates = 0
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    op = req["op"]
    creates += op == "create"
{hook}
    if op == "create":
        impl.create(req["config"]); reply = {{"ok": True}}
    elif op == "send":
        reply = {{"ok": True, "refused": not impl.send(req["event"], req.get("data") or {{}})}}
    elif op == "advance":
        impl.advance(req["seconds"]); reply = {{"ok": True}}
    elif op == "read":
        reply = {{"ok": True, **impl.read()}}
    else:
        impl.dispose(); reply = {{"ok": True}}
    print(json.dumps(reply), flush=True)
"""


def hostile(tmp_path: Path, hook: str = "", name: str = "impl_hostile.py") -> str:
    """Write the server with ``hook`` (Python lines, indented 4) to ``tmp_path``; its adapter spec."""
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    script = tmp_path / name
    script.write_text(SERVER.format(impl_dir=str(IMPL_DIR), marks=str(marks), hook=hook))
    return f"exec:{sys.executable} {script}"


def run(spec: str, **kw: float) -> tuple[list, float]:
    adapter = adapter_from_spec(spec, timeout=STEP_TIMEOUT)
    assert isinstance(adapter, ExecAdapter)
    for k, v in kw.items():
        setattr(adapter, k, v)
    t0 = time.monotonic()
    try:
        results = run_suite(adapter, SUITE).results
    finally:
        adapter.close()
    return results, time.monotonic() - t0


def failed(results: list) -> dict[str, str]:
    return {r.case_id: r.failure.error or str(r.failure.differences) for r in results if not r.passed}


def pids(tmp_path: Path) -> list[int]:
    return [int(p) for p in (tmp_path / "marks" / "pids").read_text().split()]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def conform(spec: str, tmp_path: Path, *extra: str) -> tuple[int, str]:
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps(SUITE))
    res = CliRunner().invoke(app, ["conform", "--adapter", spec, "--suite", str(suite), *extra])
    return res.exit_code, res.output


def test_the_well_behaved_server_passes(tmp_path):
    results, _ = run(hostile(tmp_path))
    assert failed(results) == {}
    assert len(pids(tmp_path)) == 1  # one process served every case


def test_a_crash_on_the_third_case_is_that_case_failure_with_status_and_stderr(tmp_path):
    spec = hostile(tmp_path, """
    if op == "create" and creates == 3 and once("crash"):
        print("Traceback: boom in create", file=sys.stderr, flush=True)
        sys.exit(3)""")
    results, _ = run(spec)
    errors = failed(results)
    assert list(errors) == ["case-3"]
    assert "exited with status 3" in errors["case-3"] and "boom in create" in errors["case-3"]
    assert "started again for the next case" in errors["case-3"]
    assert results[2].failure.index == ON_CREATE
    assert "error on create: " in format_failure(SUITE["cases"][2], results[2])
    assert len(pids(tmp_path)) == 2  # restarted once, for case 4


def test_a_hang_on_one_step_is_killed_after_the_timeout_and_reported(tmp_path):
    spec = hostile(tmp_path, """
    if op == "send" and req["event"] == "reject" and once("hang"):
        time.sleep(120)""")
    results, elapsed = run(spec)
    errors = failed(results)
    assert list(errors) == ["case-3"]
    assert f"within {STEP_TIMEOUT:g} s" in errors["case-3"] and '"event": "reject"' in errors["case-3"]
    assert results[2].failure.step == SUITE["cases"][2]["steps"][7]  # the reject step
    assert elapsed < 15, elapsed
    first, second = pids(tmp_path)
    assert gone(first) and gone(second)  # the hung one was killed, the second closed at the end


@pytest.mark.parametrize("reply, words", [
    ('print("garbage {{{", flush=True); continue', "is not JSON: 'garbage {{{'"),
    ('print("[1, 2]", flush=True); continue', "is not an object with 'ok'"),
    ('print(json.dumps({"ok": True, "state": 7, "offered": "b1"}), flush=True); continue',
     "lacks 'owner', 'transfer_count'; 'state' is not a state name: 7; 'offered' is not a list"),
])
def test_garbage_or_a_wrong_shape_fails_that_case_only(tmp_path, reply, words):
    spec = hostile(tmp_path, f"""
    if op == "read" and creates == 2 and once("garbage"):
        {reply}""")
    results, _ = run(spec)
    errors = failed(results)
    assert list(errors) == ["case-2"] and words in errors["case-2"], errors


def test_extra_lines_and_stderr_noise(tmp_path):
    spec = hostile(tmp_path, """
    print(f"log: {op} " * 50, file=sys.stderr, flush=True)
    print("", flush=True)  # blank lines are skipped
    if op == "send" and creates == 2 and once("debug"):
        print("debug: got a send", flush=True)""")
    results, _ = run(spec)
    errors = failed(results)
    # the reply after the extra line is not taken for the next request's: the program is restarted
    assert list(errors) == ["case-2"], errors
    assert "is not JSON: 'debug: got a send'" in errors["case-2"]


def test_a_program_that_exits_at_once_fails_every_case_and_the_runner_finishes(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text("import sys\nprint('impl: cannot read impl.cfg', file=sys.stderr)\nsys.exit(4)\n")
    results, elapsed = run(f"exec:{sys.executable} {script}")
    errors = failed(results)
    assert len(errors) == len(SUITE["cases"])
    assert all("exited with status 4" in e and "cannot read impl.cfg" in e for e in errors.values())
    assert all("is not started again" in errors[f"case-{i}"] for i in range(GIVE_UP_AFTER, 6))
    assert elapsed < 10


def test_a_program_that_never_answers_is_given_up_after_a_few_starts(tmp_path):
    script = tmp_path / "silent.py"
    script.write_text("import sys\nfor line in sys.stdin:\n    pass  # reads, never replies (or never flushes)\n")
    results, elapsed = run(f"exec:{sys.executable} {script}", start_timeout=STEP_TIMEOUT)
    errors = failed(results)
    assert len(errors) == len(SUITE["cases"])
    assert "must flush stdout after each reply line" in errors["case-1"]
    assert "not started again" in errors["case-5"]
    assert elapsed < GIVE_UP_AFTER * STEP_TIMEOUT + 8


def test_cli_a_crash_exits_1_and_prints_the_failure(tmp_path):
    spec = hostile(tmp_path, """
    if op == "create" and creates == 3 and once("crash"):
        print("boom", file=sys.stderr, flush=True)
        os._exit(3)""")
    code, out = conform(spec, tmp_path, "--step-timeout", "2")
    assert code == 1, out
    assert "4 passed, 1 failed" in out and "FAIL case-3" in out
    assert "exited with status 3" in out and "| boom" in out


def test_cli_a_hang_exits_1_within_the_step_timeout(tmp_path):
    spec = hostile(tmp_path, """
    if op == "advance" and once("hang"):
        time.sleep(120)""")
    t0 = time.monotonic()
    code, out = conform(spec, tmp_path, "--step-timeout", "1")
    assert code == 1, out
    assert "4 passed, 1 failed" in out and "no reply to" in out and "within 1 s" in out
    assert time.monotonic() - t0 < 20


@pytest.mark.parametrize("spec, words", [
    ("nonsense", "unknown adapter"),
    ("exec:", "unknown adapter"),
    ("exec:/no/such/program --stdio", "no program /no/such/program"),
    ("exec:no-such-program-xyz", "no program 'no-such-program-xyz' on PATH"),
    ("exec:node 'impl.js", "cannot split the command"),
    ("python:no_such_module_xyz:Impl", "cannot import no_such_module_xyz"),
])
def test_cli_bad_adapter_spec_exits_2_with_one_error_line(tmp_path, spec, words):
    code, out = conform(spec, tmp_path)
    assert code == 2, out
    assert words in out and "Traceback" not in out


def test_cli_a_python_adapter_that_cannot_load_exits_2(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    code, out = conform(f"python:{broken}:Impl", tmp_path)
    assert code == 2 and "SyntaxError" in out and "Traceback" not in out, out
    raises = tmp_path / "raises.py"
    raises.write_text("class Impl:\n    def __init__(self):\n        raise RuntimeError('no licence')\n")
    code, out = conform(f"python:{raises}:Impl", tmp_path)
    assert code == 2 and "Impl() failed: RuntimeError: no licence" in out, out


def test_cli_an_invalid_suite_file_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(app, ["conform", "--adapter", "model", "--suite", str(bad)])
    assert res.exit_code == 2 and "not JSON" in res.output


def test_requests_to_a_stopped_program_are_errors_not_crashes(tmp_path):
    adapter = ExecAdapter([sys.executable, "-c", "import sys; sys.exit(0)"], timeout=STEP_TIMEOUT)
    try:
        with pytest.raises(AdapterError, match="not running"):
            adapter.read()
        adapter.dispose()  # nothing to forget: no error
    finally:
        adapter.close()
