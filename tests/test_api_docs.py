"""Every ```python block of docs/api.md runs, in order, as one session (a later block uses the names
an earlier one defined), from the repository's root: the analysts' guide cannot rot.

The ``plan`` block is skipped (not failed) while ``model.plan`` does not exist; every other block
must run. Nothing is written into the repository (the examples only read files).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import model

from helpers import ROOT

API = ROOT / "docs" / "api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str]]:
    """``(section title, code)`` of each python block, in the page's order."""
    out = []
    for m in _BLOCK.finditer(text):
        titles = re.findall(r"^## (.+)$", text[: m.start()], re.M)
        out.append((titles[-1] if titles else "", m.group(1)))
    return out


def test_the_page_has_an_example_for_every_part_of_the_api():
    code = "\n".join(c for _, c in blocks(API.read_text()))
    for name in ("load_scenario", "with_changes", "arrivals.scale", "simulate(", ".metric(", ".by_interval(",
                 ".table(", ".events", ".transfers", "sweep(", "tune(", "compare(", "model.plan(", "estimate(",
                 "agents_required(", "calibrate(", "backtest("):
        assert name in code, name
    assert "TODO" not in API.read_text()


def _run(title: str, code: str, namespace: dict[str, object]) -> None:
    try:
        exec(compile(code, f"docs/api.md: {title}", "exec"), namespace)  # noqa: S102 - our own docs
    except Exception as err:  # broad: any failure of an example names its section
        pytest.fail(f"the example of '{title}' in docs/api.md raised {type(err).__name__}: {err}")


def test_every_example_runs(monkeypatch):
    """The blocks in order, as one session; the plan block (self-contained) has its own test."""
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "__api_docs__"}
    for title, code in blocks(API.read_text()):
        if "model.plan(" not in code:
            _run(title, code, namespace)


def test_the_plan_example_runs(monkeypatch):
    if not hasattr(model, "plan"):
        pytest.skip("model.plan does not exist yet: the plan example of docs/api.md is not run")
    monkeypatch.chdir(ROOT)
    plan_blocks = [(t, c) for t, c in blocks(API.read_text()) if "model.plan(" in c]
    assert plan_blocks
    for title, code in plan_blocks:
        _run(title, code, {"__name__": "__api_docs__"})
