"""Checks shared by the subcommands: targets and metric names as typed, the work bounds, output
folders, scenario files. Each refusal exits with one line ``error: ...`` (:func:`.app.fail`)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .app import fail

if TYPE_CHECKING:
    from ..scenario import Scenario
    from ..workload import Work

__all__ = ["parse_target", "check_scope_text", "check_scope_in", "check_metric", "check_force", "expect_note", "oserror_text", "writable_folder",
           "load_or_fail", "folder_kind_of", "executor_option", "parse_interval"]


def parse_target(text: str | float, metric: str, option: str = "--target") -> float:
    """A target for ``metric`` as typed.

    For a proportion (a figure whose unit is ``%`` in :mod:`model.results.figures`: rates, service
    levels, occupancy) it is a rate read by :func:`~model.results.figures.parse_rate`: ``0.05`` or
    ``5%``, never a bare ``5``. Any other figure (counts, times, per-transfer ratios) is a finite
    number >= 0, not a percentage. Exits 2 with one line naming ``option``, e.g.
    ``error: --target 5: a rate is a fraction (0.05) or a percent (5%)``.
    """
    from ..results.figures import FIGURES, RateError, parse_rate

    info = FIGURES.get(metric)
    raw = str(text).strip()
    if info is not None and info.is_proportion:
        try:
            return parse_rate(raw, option)
        except RateError as err:
            fail(str(err))
    allowed = "a number >= 0 (not a percentage)"
    if raw.endswith("%"):
        fail(f"{option} {raw} is a percentage, but {metric} is not a proportion: give {allowed}")
    try:
        value = float(raw)
    except ValueError:
        fail(f"{option} for {metric} must be {allowed}; got {raw!r}")
    if not math.isfinite(value) or value < 0:
        fail(f"{option} for {metric} must be {allowed} and finite; got {raw!r}")
    return value + 0.0  # -0.0 -> 0.0


def check_scope_text(text: str, option: str = "--scope") -> tuple[str, str]:
    """``(kind, key)`` of a scope as typed (:func:`model.results.scopes.parse_scope`), or exit 2."""
    from ..results.scopes import ScopeError, parse_scope

    try:
        return parse_scope(text)
    except ScopeError as err:
        fail(f"{option} {text!r}: {err}")


def check_scope_in(sc: Scenario, text: str, option: str = "--scope") -> tuple[str, str]:
    """``(kind, key)`` of a scope the scenario has (its services, transfer targets, groups), or exit 2
    listing them: checked before anything runs."""
    from ..results.scopes import scope_text

    kind, key = check_scope_text(text, option)
    known = ["overall", *(f"service:{s.name}" for s in sc.services), *(f"target:{t}" for t in sorted(sc.targets())),
             *(f"group:{g.name}" for g in sc.groups)]
    if scope_text(kind, key) not in known:
        fail(f"{option} {text!r}: the scenario {sc.name!r} has no such scope; its scopes: {', '.join(known)}")
    return kind, key


def check_metric(name: str, option: str, allowed: Iterable[str]) -> str:
    """``name`` if it is one of ``allowed``, else exit 2 listing them."""
    names = list(allowed)
    if name not in names:
        fail(f"{option} {name!r} is not a metric; allowed: {', '.join(names)}")
    return name


def check_force(work: Work, force: bool, what: str) -> None:
    """Exit 2 when ``work`` is above the bounds of docs/limits.md and ``force`` is not given."""
    from ..workload import WorkTooLarge, check_work

    try:
        check_work(work, force, what=what)
    except WorkTooLarge as err:
        fail(str(err))


def expect_note(work: Work, parallel: int = 1) -> None:
    """One line on stderr when the work is expected to take more than ~10 s (also without a terminal)."""
    from ..workload import PROGRESS_NOTE_SECONDS, format_seconds

    seconds = work.seconds / max(1, parallel)
    if seconds > PROGRESS_NOTE_SECONDS:
        typer.echo(f"{format_seconds(seconds)} expected (~{work.events:.2g} events"
                   f"{f' on {parallel} processes' if parallel > 1 else ''})", err=True)


def oserror_text(err: OSError, tmp: Path | None = None, final: Path | None = None) -> str:
    """``cannot write PATH: REASON`` naming the final path (not a hidden temporary one)."""
    name = err.filename if err.filename is not None else (final if final is not None else "?")
    name = str(name)
    if tmp is not None and final is not None and name.startswith(str(tmp)):
        name = str(final) + name[len(str(tmp)):]
    reason = err.strerror or str(err) or type(err).__name__
    return f"cannot write {name}: {reason}"


def writable_folder(out: Path, option: str = "--out") -> None:
    """Exit 2 when ``out`` cannot become a folder: an ancestor is a file, or is not writable."""
    p = out.absolute()
    for anc in [p, *p.parents]:
        if anc.exists():
            if not anc.is_dir():
                fail(f"{option} {out}: {anc} is a file, not a folder")
            if anc != p and not os.access(anc, os.W_OK | os.X_OK):
                fail(f"{option} {out}: cannot write into {anc} (permission denied)")
            return


def load_or_fail(path: Path) -> Scenario:
    """Load a scenario file, or exit 2 with the validation message (file, field, value, allowed)."""
    from ..scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as err:
        fail(str(err))


def folder_kind_of(path: Path) -> str | None:
    """What a folder holds (``"run"``, ``"sweep"``, ``"tune"``, ``"file"``, ...; ``None``: new or empty)."""
    from ..results.result import folder_kind

    return folder_kind(path)


def executor_option(executor: str, scheduler: str | None) -> str:
    """The executor a sweep or a tuning runs on: a Dask address, ``"processes"`` or ``"serial"``."""
    if scheduler:
        return scheduler if "://" in scheduler else f"tcp://{scheduler}"
    if executor not in ("processes", "serial"):
        fail(f"--executor must be 'processes' or 'serial' (use --scheduler ADDRESS for Dask), got {executor!r}")
    return executor


def parse_interval(text: str, option: str = "--by") -> float:
    """Seconds of an interval of the clock as typed (``1h``, ``30m``, ``15m``, or seconds), or exit 2
    with one line naming ``option``, the value and the allowed values (a whole number of minutes
    that divides 24 h, :func:`model.sim.intervals.interval_seconds`)."""
    from ..sim.intervals import interval_seconds

    try:
        return interval_seconds(text)
    except ValueError as err:
        fail(f"{option} {text!r}: {err}")
