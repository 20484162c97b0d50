"""What a sweep returns: :class:`SweepResult`, and the tidy frames it is made of.

Why apart from the sweep loop: a result is also read back from a store (:meth:`SweepResult.from_dir`)
without running anything, and both paths must build the same frames with the same dtypes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..results.metrics import summarise
from ..results.result import ReplicationRow
from ..results.scopes import scope_text, select_scope
from .grid import grid_points
from .store import SweepStore

__all__ = [
    "SweepResult", "SUMMARY_COLUMNS", "REPLICATION_COLUMNS", "point_ids", "point_frame", "tidy", "concat_frames",
    "summary_frame",
]

SUMMARY_COLUMNS = ["scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
"""The columns after the varied paths in :attr:`SweepResult.summary`."""

REPLICATION_COLUMNS = ["replication", "scope", "key", "metric", "value"]
"""The columns after the varied paths in :attr:`SweepResult.per_replication`."""


@dataclass
class SweepResult:
    """A finished (or partly failed) sweep.

    Attributes:
        vary: the varied paths and their values, in grid order (first path outermost).
        replications: replications per point.
        seed: the seed every point used (common random numbers), or the base of per-point seeds.
        summary: tidy, one column per varied path, then ``scope, key, metric, mean, ci_low,
            ci_high, n`` (95 % t interval over replications).
        per_replication: tidy, one column per varied path, then ``replication, scope, key, metric, value``.
        failures: one dict per failed point: ``point`` (its id), ``params`` (its changes),
            ``error`` (one line, ``"Type: message"``), ``type``, ``message``, ``traceback``; a worker
            process that died is ``"WorkerDied: worker process died (exit code N)"``.
        out: the store folder, or ``None``.
    """

    vary: dict[str, list[Any]]
    replications: int
    seed: int
    summary: pd.DataFrame
    per_replication: pd.DataFrame
    failures: list[dict[str, Any]] = field(default_factory=list)
    out: Path | None = None
    common_random_numbers: bool = True

    @property
    def params(self) -> list[str]:
        """The varied paths (the first columns of both frames)."""
        return list(self.vary)

    @property
    def points(self) -> int:
        """How many points the grid has (stored, failed or not run)."""
        return len(grid_points(self.vary))

    def metric(self, name: str, scope: str = "overall", key: str | None = None) -> pd.DataFrame:
        """One figure across the grid: the varied paths then ``mean, ci_low, ci_high, n``; the scope
        as everywhere (``"target:tech"``, or ``"target", "tech"``; :mod:`model.results.scopes`). An
        unknown scope raises :class:`~model.results.scopes.UnknownScope` listing the sweep's scopes."""
        s = self.summary
        kind, key = select_scope(s, scope, key, what="this sweep")
        sel = s[(s.scope == kind) & (s.key == key) & (s.metric == name)]
        if sel.empty:
            known = sorted(set(s[(s.scope == kind) & (s.key == key)].metric))
            raise KeyError(f"no metric {name!r} for {scope_text(kind, key)} in this sweep; its metrics: "
                           f"{', '.join(known)}")
        return sel[[*self.params, "mean", "ci_low", "ci_high", "n"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: arguments, ``summary`` records (NaN as ``None``) and ``failures``."""
        recs = self.summary.astype(object).where(self.summary.notna(), None).to_dict(orient="records")
        return {
            "vary": self.vary,
            "replications": self.replications,
            "seed": self.seed,
            "common_random_numbers": self.common_random_numbers,
            "out": None if self.out is None else str(self.out),
            "points": len(grid_points(self.vary)),
            "summary": recs,
            "failures": [{k: v for k, v in f.items() if k != "traceback"} for f in self.failures],
        }

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep store back (the points stored so far; failures as recorded)."""
        store = SweepStore(directory)
        args = store.arguments()
        vary = {path: values for path, values in args["vary"]}
        points = grid_points(vary)
        frames = [store.read_point(pid) for pid in point_ids(len(points)) if pid in store.done()]
        per_rep = concat_frames(frames, list(vary), REPLICATION_COLUMNS)
        return cls(
            vary=vary,
            replications=args["replications"],
            seed=args["seed"],
            summary=summary_frame(per_rep, list(vary)),
            per_replication=per_rep,
            failures=store.read_failures(),
            out=Path(directory),
            common_random_numbers=args.get("common_random_numbers", True),
        )


def point_ids(n: int) -> list[str]:
    """The ids of a grid's ``n`` points, in grid order: ``p0000``, ``p0001``... (sortable, at least 4 digits)."""
    width = max(4, len(str(n - 1)))
    return [f"p{i:0{width}d}" for i in range(n)]


def point_frame(params: dict[str, Any], rows: list[ReplicationRow], columns: dict[str, Any]) -> pd.DataFrame:
    """One point's per-replication rows as a tidy frame: its varied paths (values from ``columns``),
    then :data:`REPLICATION_COLUMNS`, sorted by replication."""
    df = pd.DataFrame(rows, columns=REPLICATION_COLUMNS)
    df = df.sort_values("replication", kind="stable", ignore_index=True)
    for pos, path in enumerate(params):
        df.insert(pos, path, [columns[path]] * len(df))
    return tidy(df, list(params), REPLICATION_COLUMNS)


def tidy(df: pd.DataFrame, params: list[str], tail: list[str]) -> pd.DataFrame:
    """One dtype per column, whether the frame was just computed or read back from Parquet."""
    df = df[[*params, *tail]].reset_index(drop=True)
    for col in ("scope", "key", "metric"):
        df[col] = df[col].astype("str")
    for col in ("replication", "n"):
        if col in df:
            df[col] = df[col].astype("int64")
    for col in ("value", "mean", "ci_low", "ci_high"):
        if col in df:
            df[col] = df[col].astype("float64")
    return df


def concat_frames(frames: list[pd.DataFrame], params: list[str], tail: list[str]) -> pd.DataFrame:
    """``frames`` as one tidy frame (:func:`tidy`); the empty frame of these columns when there are none."""
    if not frames:
        return pd.DataFrame(columns=[*params, *tail])
    return tidy(pd.concat(frames, ignore_index=True), params, tail)


def summary_frame(per_rep: pd.DataFrame, params: list[str], level: float = 0.95) -> pd.DataFrame:
    """Per point (the values of ``params``), the mean and ``level`` interval of every figure:
    the varied paths, then :data:`SUMMARY_COLUMNS`."""
    if per_rep.empty:
        return pd.DataFrame(columns=[*params, *SUMMARY_COLUMNS])
    parts = []
    for values, grp in per_rep.groupby(params, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        s = summarise(grp[REPLICATION_COLUMNS], level)
        for pos, (path, v) in enumerate(zip(params, values)):
            s.insert(pos, path, [v] * len(s))
        parts.append(s)
    return tidy(pd.concat(parts, ignore_index=True), params, SUMMARY_COLUMNS)
