"""The runner: replay a suite through an adapter and report the first step where it disagrees."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .adapters import Adapter, AdapterError

__all__ = ["ON_CREATE", "StepFailure", "CaseResult", "SuiteResult", "run_case", "run_suite", "format_failure", "format_step"]


ON_CREATE = -1
"""The :attr:`StepFailure.index` of a failure on the case's ``create`` (before its first step)."""


@dataclass
class StepFailure:
    """The first step of a case where the implementation disagrees with the expectation.

    ``index`` is the position in ``case["steps"]`` (:data:`ON_CREATE` when the case's ``create``
    failed, ``len(steps)`` for its ``dispose``); ``differences`` maps each disagreeing key to
    ``(expected, observed)``; ``error`` is set instead when the adapter failed (a program that
    crashed, hung or replied garbage: its exit status and stderr tail are in the text).
    """

    index: int
    step: dict[str, Any]
    expected: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class CaseResult:
    case_id: str
    title: str
    failure: StepFailure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class SuiteResult:
    results: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def run_case(adapter: Adapter, case: Mapping[str, Any]) -> CaseResult:
    """Replay one case; stop at the first disagreement (or adapter error)."""
    result = CaseResult(str(case.get("id", "?")), str(case.get("title", "")))
    refused: bool | None = None
    steps = case["steps"]
    i = -1
    try:
        adapter.create(case["config"])
        for i, step in enumerate(steps):
            if "advance" in step:
                adapter.advance(float(step["advance"]))
            elif "send" in step:
                refused = not adapter.send(step["send"], step.get("data") or {})
            else:
                expected = dict(step["expect"])
                observed = adapter.read()
                if "refused" in expected:
                    observed["refused"] = refused
                diffs = {
                    k: (v, observed.get(k)) for k, v in expected.items() if _norm(v) != _norm(observed.get(k))
                }
                if diffs:
                    result.failure = StepFailure(i, dict(step), expected, observed, diffs)
                    break
    except AdapterError as err:
        where = dict(steps[i]) if 0 <= i < len(steps) else {"create": case["config"]}
        result.failure = StepFailure(i if i >= 0 else ON_CREATE, where, error=str(err))
    except Exception as err:  # broad on purpose: whatever the implementation raises is its failure, reported
        where = dict(steps[i]) if 0 <= i < len(steps) else {"create": case["config"]}
        result.failure = StepFailure(i if i >= 0 else ON_CREATE, where, error=f"{type(err).__name__}: {err}")
    finally:
        try:
            adapter.dispose()
        except Exception as err:  # broad on purpose, as above; reported unless an earlier failure is
            if result.failure is None:
                result.failure = StepFailure(len(steps), {"dispose": True}, error=f"dispose failed: {type(err).__name__}: {err}")
    return result


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return sorted(v)
    return v


def run_suite(
    adapter: Adapter,
    suite: Mapping[str, Any],
    on_result: Callable[[Mapping[str, Any], CaseResult], None] | None = None,
) -> SuiteResult:
    """Replay every case of ``suite``; ``on_result`` is called after each case."""
    results = []
    for case in suite["cases"]:
        r = run_case(adapter, case)
        results.append(r)
        if on_result is not None:
            on_result(case, r)
    return SuiteResult(results)


def format_step(step: Mapping[str, Any]) -> str:
    """A step as one short line: ``advance 9.875 s``, ``send accept {"agent": "b1"}``, ``expect {...}``."""
    if "advance" in step:
        return f"advance {step['advance']:g} s"
    if "send" in step:
        data = step.get("data") or {}
        return f"send {step['send']}" + (f" {json.dumps(data)}" if data else "")
    if "expect" in step:
        return f"expect {json.dumps(step['expect'])}"
    return json.dumps(step)


def format_failure(case: Mapping[str, Any], result: CaseResult) -> str:
    """The failing case, readable: configuration, the timeline up to the step, and the difference."""
    f = result.failure
    if f is None:
        return f"{result.case_id}: passed"
    cfg = case["config"]
    lines = [
        f"{result.case_id}  {result.title}",
        "  config: " + json.dumps({k: cfg[k] for k in cfg}),
    ]
    if f.index != ON_CREATE:
        lines.append("  timeline (t = virtual time before the step):")
    t = 0.0
    for i, step in enumerate(case["steps"][: f.index + 1]):
        if "expect" in step and i != f.index:
            continue
        mark = ">>" if i == f.index else "  "
        lines.append(f"   {mark} [{i:>2}] t={t:<7g} {format_step(step)}")
        if "advance" in step:
            t += float(step["advance"])
    if f.error:
        lines.append(f"  error on create: {f.error}" if f.index == ON_CREATE else f"  error at step {f.index}: {f.error}")
    else:
        lines.append(f"  first difference at step {f.index}:")
        for k, (exp, obs) in f.differences.items():
            lines.append(f"     {k}: expected {json.dumps(exp)}, observed {json.dumps(obs)}")
    return "\n".join(lines)
