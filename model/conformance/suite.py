"""Conformance suites generated from the statechart: the breadth-first generator and coverage.

A breadth-first search over the model's reachable configurations (state, owner, offers,
rejections, target, time relative to the running timers' deadlines, last transition) finds, for
every coverage goal of :func:`~model.conformance.goals.all_goals`, the shortest timeline that
reaches it; the suite is the set of those timelines, each step's expectation being what the
reference model (the formal StateChart) observed. Coverage is measured by replaying the cases on
the model with a :class:`~model.conformance.goals.Tracer`, under the names of :data:`DIMENSIONS`.

The goals live in :mod:`.goals`, the file format in :mod:`.suite_format`; both are re-exported
here, the module other code imports.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .goals import (
    CONFIGS,
    DIMENSIONS,
    EDGE_CONFIGS,
    EPSILON,
    PALETTE,
    SITUATIONS,
    Goal,
    Tracer,
    all_goals,
    observe,
    rules_from_config,
    with_expectations,
)
from .suite_format import SCHEMA, SCHEMA_VERSION, SuiteError, dump_suite, load_suite, validate_suite

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "EPSILON",
    "CONFIGS",
    "EDGE_CONFIGS",
    "DIMENSIONS",
    "PALETTE",
    "SITUATIONS",
    "SuiteError",
    "Tracer",
    "rules_from_config",
    "observe",
    "all_goals",
    "with_expectations",
    "generate_suite",
    "default_suite",
    "suite_coverage",
    "format_coverage",
    "load_suite",
    "dump_suite",
    "validate_suite",
]


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


def _candidate_steps(t: Tracer) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"send": e, "data": copy.deepcopy(data)} for e, datas in PALETTE.items() for data in datas
    ]
    now = t.now
    seconds: list[float] = [1.0]
    for deadline in t.deadlines:
        for off in (-EPSILON, 0.0, EPSILON):
            dt = deadline + off - now
            if dt > 0 and dt not in seconds:
                seconds.append(dt)
    seconds.append(0.0)  # changes nothing: every timer due at this instant has fired
    steps += [{"advance": s} for s in seconds]
    return steps


def _explore(config: Mapping[str, Any], max_depth: int) -> tuple[dict[Goal, list[dict[str, Any]]], int]:
    """Breadth-first search from the arrival; the shortest timeline reaching each goal."""
    root = Tracer(config)
    found: dict[Goal, list[dict[str, Any]]] = {g: [] for g in root.start()}
    seen = {root.key()}
    frontier: deque[tuple[Tracer, list[dict[str, Any]]]] = deque([(root, [])])
    nodes = 0
    while frontier:
        node, path = frontier.popleft()
        nodes += 1
        if len(path) >= max_depth:
            continue
        for step in _candidate_steps(node):
            child = node.clone()
            _, goals = child.step(step)
            child_path = path + [step]
            for g in goals:
                found.setdefault(g, child_path)
            k = child.key()
            if k not in seen:
                seen.add(k)
                frontier.append((child, child_path))
    return found, nodes


def generate_suite(
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    max_depth: int = 9,
    edge_configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Generate a suite from the statechart: a shortest case per goal, and the coverage reached.

    ``configs`` (default :data:`CONFIGS`) are explored first; ``edge_configs`` (default
    :data:`EDGE_CONFIGS`, the timers of length 0) only for the goals ``configs`` do not reach,
    so every other case keeps its ordinary timers. Goals that the exhaustive search (to
    ``max_depth`` steps) never reaches are reported as ``unreachable``; with the default
    configurations these include the two ``*_deadline=false`` guards, which only an external
    clock can make false (timers due at an instant fire first).
    """
    configs = dict(CONFIGS if configs is None else configs)
    edges = dict(EDGE_CONFIGS if edge_configs is None else edge_configs)
    reached: dict[Goal, tuple[str, list[dict[str, Any]]]] = {}
    for name, config in configs.items():
        found, _ = _explore(config, max_depth)
        for goal, path in found.items():
            if goal not in reached or len(path) < len(reached[goal][1]):
                reached[goal] = (name, path)
    primary = set(reached)
    for name, config in edges.items():
        found, _ = _explore(config, max_depth)
        for goal, path in found.items():
            if goal not in primary and (goal not in reached or len(path) < len(reached[goal][1])):
                reached[goal] = (name, path)
    configs.update(edges)
    universe = all_goals()
    covered: set[Goal] = set()
    cases: list[dict[str, Any]] = []
    for dim in DIMENSIONS:
        for name in universe[dim]:
            goal = (dim, name)
            if goal in covered or goal not in reached:
                continue
            cfg_name, path = reached[goal]
            case = {
                "id": f"{dim}-{len([c for c in cases if c['goal'][0] == dim]) + 1:03d}",
                "title": f"{dim}: {name}",
                "goal": [dim, name],
                "config": copy.deepcopy(dict(configs[cfg_name])),
                "steps": with_expectations(configs[cfg_name], path),
            }
            cases.append(case)
            covered |= _case_goals(case)
    unreachable = {dim: [n for n in universe[dim] if (dim, n) not in reached] for dim in DIMENSIONS}
    suite = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "generator": {
            "source": "model.lifecycle.TransferLifecycle",
            "epsilon": EPSILON,
            "max_depth": max_depth,
            "unreachable": {d: v for d, v in unreachable.items() if v},
        },
        "cases": cases,
    }
    suite["coverage"] = suite_coverage(suite)
    return suite


@lru_cache(maxsize=1)
def _default_suite_json() -> str:
    return json.dumps(generate_suite())


def default_suite() -> dict[str, Any]:
    """The suite generated with the default configurations (cached; a fresh copy each call)."""
    return json.loads(_default_suite_json())


def _case_goals(case: Mapping[str, Any]) -> set[Goal]:
    t = Tracer(case["config"])
    goals = t.start()
    for step in case["steps"]:
        goals |= t.step(step)[1]
    return goals


def suite_coverage(suite: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Coverage reached by replaying the suite's cases on the model, per dimension."""
    goals: set[Goal] = set()
    for case in suite["cases"]:
        goals |= _case_goals(case)
    return coverage_of(goals, (suite.get("generator") or {}).get("unreachable") or {})


def coverage_of(goals: set[Goal], unreachable: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per dimension: how many goals ``goals`` covers of all, which not, and which of those the
    generator found ``unreachable`` (the shape every coverage report prints)."""
    out: dict[str, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        names = all_goals()[dim]
        missing = [n for n in names if (dim, n) not in goals]
        out[dim] = {
            "covered": len(names) - len(missing),
            "total": len(names),
            "not_covered": missing,
            "unreachable": [n for n in missing if n in unreachable.get(dim, ())],
        }
    return out


def format_coverage(coverage: Mapping[str, Mapping[str, Any]], details: bool = True) -> str:
    """One line per dimension: ``states 9/9 (100%)``, and the goals not covered."""
    lines = []
    for dim in DIMENSIONS:
        c = coverage[dim]
        pct = 100.0 * c["covered"] / c["total"] if c["total"] else 100.0
        line = f"  {dim:<17} {c['covered']:>3}/{c['total']:<3} ({pct:.0f}%)"
        if c["unreachable"]:
            line += f"; unreachable: {len(c['unreachable'])}"
        lines.append(line)
        if details:
            for n in c["not_covered"]:
                why = " (unreachable)" if n in c["unreachable"] else ""
                lines.append(f"      not covered: {n}{why}")
    return "\n".join(lines)
