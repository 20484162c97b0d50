"""Mutation testing of the core modules with mutmut 3 (``make mutation``; docs/testing.md).

Each target module is mutated on its own, with only the fast test files that are meant to pin it
down (running the whole suite per mutant would take hours on two cores). mutmut reads its
configuration from ``pyproject.toml`` in the current folder, so every target gets a work folder
``build/mutation/<target>/`` holding a copy of the project with a ``[tool.mutmut]`` section for
that target; mutmut then builds ``mutants/`` inside it.

Output (``reports/mutation/``, not committed):

* ``survivors.txt``: every mutant that was not killed (survived, no tests, timeout, ...), with
  its diff, per target;
* ``scores.json``: the counts and the score per target;
* the score per target is printed at the end.

Every mutant mutmut does not count as killed is re-run against the target's whole test selection
in a plain subprocess (see ``recheck``): mutmut ties import-time code to one test only and reports
a broken import as a timeout. Score = detected / (all mutants - skipped), detected = killed by
mutmut or by the re-check, timeouts and type-check catches. A mutant that no selected test
reaches ("no tests") and does not fail the re-check counts as surviving.

    python tests/mutation.py                  # every target
    python tests/mutation.py lifecycle engine # some of them
    python tests/mutation.py --report-only    # re-read the last run's results, run nothing
    MUTATION_CHILDREN=2 ...                   # parallel mutant runs (default: 2)

Determinism: Hypothesis runs with a fixed seed (``--hypothesis-seed=0``), and the engine's
property test with a smaller example budget (``TRANSFER_SIM_PROPERTY_EXAMPLES``), so a mutant is
killed or not the same way on every run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
OUT = ROOT / "reports" / "mutation"
MUTMUT = [sys.executable, "-m", "mutmut"]
COPY = ["model", "tests", "scenarios", "examples"]  # what the selected tests read besides the code


@dataclass(frozen=True)
class Target:
    modules: tuple[str, ...]  # the files mutated
    tests: list[str]  # pytest selection run per mutant (files or node ids)
    env: dict[str, str] = field(default_factory=dict)


# Left out per mutant: it re-runs the simulation in fresh interpreters, which import the installed
# project, not the mutant; it checks hashing independence, not the engine's logic (4 s a run).
NOT_PER_MUTANT = ["--deselect", "tests/test_sim.py::test_event_log_does_not_depend_on_the_process_string_hashing"]

TARGETS: dict[str, Target] = {
    "lifecycle": Target(("model/lifecycle/*.py",), ["tests/test_lifecycle.py"]),
    "metrics": Target(("model/results/metrics.py",), ["tests/test_metrics.py", "tests/test_sim.py", *NOT_PER_MUTANT]),
    # the engine's core: the replication's event flow, agents and slots, routing, arrival clocks
    "engine": Target(
        ("model/sim/engine.py", "model/sim/agents.py", "model/sim/routing.py", "model/sim/arrivals.py"),
        # fast and decisive first: the re-check stops at the first failure (-x)
        ["tests/test_engine_pinned.py", "tests/test_engine_edges.py", "tests/test_routing.py",
         "tests/test_metrics.py", "tests/test_engine_regressions.py", "tests/test_sim.py",
         "tests/test_engine_properties.py", *NOT_PER_MUTANT],
        env={"TRANSFER_SIM_PROPERTY_EXAMPLES": "10"},  # 100 in the suite; 10 keeps a mutant under ~5 s
    ),
}


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _third_party_modules(work: Path) -> str:
    """Every module, in import order, that importing the project and the test tools loads, except
    the project's own: what the fork server imports once, so a mutant's run imports only ``model``."""
    code = (
        "import sys, model, model.cli, model.sim.engine, model.results.metrics, hypothesis.strategies,"
        " typer.testing, pytest\n"
        "print('\\n'.join(m for m in list(sys.modules) if m.split('.')[0] not in ('model', 'tests', '__main__')))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True,
                          check=True).stdout


def prepare(name: str, target: Target) -> Path:
    """A fresh work folder: the project's files plus a pyproject.toml with this target's mutmut config."""
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for item in COPY:
        shutil.copytree(ROOT / item, work / item, ignore=ignore)
    files = [t.split("::")[0] for t in target.tests if t.startswith("tests/")]
    missing = [f for f in files if not (ROOT / f).exists()]
    if missing:
        raise SystemExit(f"{name}: test file(s) not found: {', '.join(missing)}")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject)  # ours replaces any
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["model"]\n'
        f"only_mutate = {_toml_list(list(target.modules))}\n"
        f"also_copy = {_toml_list(COPY[1:])}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(target.tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-seed=0", "-q",'
        ' "--continue-on-collection-errors"]\n'
        "use_git_change_detection = false\n"
        # Each mutant runs in a process forked from a server that has imported the third-party
        # libraries but not ``model``: the grandchild imports ``model`` with the mutant active, so
        # code that runs at import time (``COMPILED = CompiledLifecycle()``, class bodies) is
        # mutated too. In mutmut's default fork mode ``model`` is already imported, and those
        # mutants would "survive" without ever running.
        'process_isolation = "forkserver"\n'
        'forkserver_warmup = "import"\n'
        f"preload_modules_file = {json.dumps(str(work / 'preload.txt'))}\n"
    )
    (work / "preload.txt").write_text(_third_party_modules(work))
    tomllib.loads(pyproject)  # fail here, not inside mutmut, on a bad config
    (work / "pyproject.toml").write_text(pyproject)
    return work


def results(work: Path) -> dict[str, str]:
    """mutant name -> status, for every mutant of the run."""
    out = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=work, capture_output=True,
                         text=True, check=True).stdout
    status = {}
    for line in out.splitlines():
        m = re.match(r"^\s+(\S+): (.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    return status


def recheck(work: Path, env: dict[str, str], mutant: str) -> str:
    """Re-run a mutant that mutmut did not count as killed against the WHOLE test selection, in a
    plain subprocess, and say what really happens: "killed", "survived" or "timeout".

    Two mutmut artefacts make this necessary. (1) mutmut ties code that runs at import time
    (``COMPILED = CompiledLifecycle()``, class bodies) only to the first test of its stats run, so
    such a mutant is tried against one test, not the ones that would catch it. (2) mutmut reports
    a test run that ended in an exception as a timeout (exit 255): with a mutant that breaks
    ``import model`` pytest cannot find the selected node ids and ends with a usage error."""
    tests = TARGETS_BY_WORK[work].tests
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0", *tests],
            cwd=work / "mutants", env={**env, "MUTANT_UNDER_TEST": mutant}, capture_output=True,
            timeout=RECHECK_SECONDS, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if proc.returncode == 0 else "killed (whole selection)"


RECHECK_SECONDS = 150
"""A whole selection takes about 20 s for a mutant that changes nothing (40 s with two re-checks
sharing two cores); a run past this bound is a mutant that loops, so it counts as a timeout."""
RECHECK_MEMORY = 4 * 2**30
"""Address-space bound of a re-check: a mutant that allocates without end fails fast instead of
filling a shared machine's memory (a MemoryError, so it counts as killed)."""


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (RECHECK_MEMORY, RECHECK_MEMORY))
TARGETS_BY_WORK: dict[Path, Target] = {}


def score(status: dict[str, str]) -> dict[str, object]:
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    detected = sum(n for s, n in counts.items() if s.startswith("killed") or s in ("timeout", "caught by type check"))
    considered = len(status) - counts.get("skipped", 0)
    return {"total": len(status), "counts": counts, "detected": detected,
            "score": round(100 * detected / considered, 1) if considered else None}


def run_target(name: str, target: Target, children: int, previous: dict | None) -> tuple[dict[str, object], str]:
    """Mutate and test one target; with ``previous`` (--report-only) only re-read the last run."""
    env = {**os.environ, **target.env}
    env.pop("CI", None)  # CI's heavier settings do not belong in a per-mutant run
    if previous is not None:
        work = WORK / name
        if not (work / "mutants").exists():
            raise SystemExit(f"{name}: no earlier run in {work}")
        seconds = previous["seconds"]
    else:
        work = prepare(name, target)
        print(f"== {name}: mutating {' '.join(target.modules)} against {' '.join(target.tests)}", flush=True)
        start = time.monotonic()
        proc = subprocess.run([*MUTMUT, "run", "--max-children", str(children)], cwd=work, env=env)
        seconds = round(time.monotonic() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: mutmut run failed (exit {proc.returncode}); see its output above")
    TARGETS_BY_WORK[work] = target
    status = results(work)
    again = [m for m, s in status.items() if s not in ("killed", "caught by type check", "skipped")]
    print(f"{name}: re-checking {len(again)} mutants against the whole selection", flush=True)
    with ThreadPoolExecutor(max_workers=children) as pool:
        for mutant, s in zip(again, pool.map(lambda m: recheck(work, env, m), again)):
            status[mutant] = s
    summary = {"module": " ".join(target.modules), "tests": target.tests, "env": target.env,
               "seconds": seconds,
               "date": previous.get("date", date.today().isoformat()) if previous else date.today().isoformat(), **score(status)}
    lines = [f"### {name}: {' '.join(target.modules)} ({summary['score']} % detected, {seconds} s)"]
    for mutant, s in sorted(status.items()):
        if s.startswith("killed") or s in ("timeout", "caught by type check"):
            continue
        diff = subprocess.run([*MUTMUT, "show", mutant], cwd=work, env=env, capture_output=True,
                              text=True).stdout
        lines += [f"--- {mutant}: {s}", diff.rstrip(), ""]
    return summary, "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    report_only = "--report-only" in argv
    argv = [a for a in argv if a != "--report-only"]
    names = argv or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print(f"unknown target(s) {unknown}; choose from {list(TARGETS)}", file=sys.stderr)
        return 2
    children = int(os.environ.get("MUTATION_CHILDREN", "2"))
    OUT.mkdir(parents=True, exist_ok=True)
    scores_path = OUT / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    sections = {}
    for name in names:
        summary, text = run_target(name, TARGETS[name], children, scores.get(name, {"seconds": None})
                                   if report_only else None)
        scores[name] = summary
        sections[name] = text
        (OUT / f"survivors-{name}.txt").write_text(text)
        scores_path.write_text(json.dumps(scores, indent=2) + "\n")
    # one file with the survivors of every target run so far (the latest run of each)
    (OUT / "survivors.txt").write_text("\n".join(
        (OUT / f"survivors-{n}.txt").read_text() for n in TARGETS if (OUT / f"survivors-{n}.txt").exists()))
    print("\nmutation score, detected / (mutants - skipped):")
    for name in TARGETS:
        if name in scores:
            s = scores[name]
            print(f"  {name:10s} {s['module']:28s} {s['score']:>5} %  {s['detected']}/{s['total']}"
                  f"  {s['counts']}  {s['seconds']} s  ({s['date']})")
    print(f"survivors: {OUT / 'survivors.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
