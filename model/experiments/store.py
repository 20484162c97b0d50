"""The resumable sweep store: one folder, one Parquet file per finished point.

Layout of ``OUT``::

    sweep.json               the arguments of the sweep and their hash (a resume must match);
                             also ``points`` (how many) and ``failed`` (id, parameters, one-line
                             error of each failed point), rewritten as points fail or recover
    points/<point-id>.parquet  the per-replication rows of one point, written when it finishes
    failures.json            the points that failed: id, parameters, error, type, message,
                             traceback (only while some do)
    summary.parquet, summary.csv   the tidy summary, written at the end

Every file is written to a temporary name and renamed (``os.replace``), so an interruption
never leaves half a file: a point is either stored whole or computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..results.result import atomic_write
from .grid import ExperimentError

__all__ = ["SweepStore", "arguments_hash"]

FORMAT = 1


def arguments_hash(arguments: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``arguments``."""
    text = json.dumps(arguments, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class SweepStore:
    """The folder of one sweep. :meth:`open` checks or writes ``sweep.json``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self.points_dir = self.dir / "points"

    # -- arguments ------------------------------------------------------------------
    def open(self, arguments: dict[str, Any]) -> str:
        """Start or resume: a new folder gets ``sweep.json``; an existing one must hold the same
        arguments, or :class:`ExperimentError` says which differ. Returns the hash."""
        digest = arguments_hash(arguments)
        meta_path = self.dir / "sweep.json"
        if meta_path.exists():
            stored = json.loads(meta_path.read_text())
            if stored.get("hash") != digest:
                old = stored.get("arguments", {})
                canon = json.loads(json.dumps(arguments, sort_keys=True, default=str))
                diffs = sorted(k for k in set(old) | set(canon) if old.get(k) != canon.get(k)) or ["format"]
                raise ExperimentError(
                    f"{self.dir} holds another sweep (different {', '.join(diffs)}); "
                    "resume with the same arguments, or choose another output folder"
                )
            return digest
        if self.dir.exists() and any(p.name != ".DS_Store" for p in self.dir.iterdir()):
            raise ExperimentError(f"{self.dir} is not empty and holds no sweep.json; choose another output folder")
        self.points_dir.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "hash": digest, "arguments": arguments}
        atomic_write(meta_path, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str)))
        return digest

    # -- points ---------------------------------------------------------------------
    def point_path(self, point_id: str) -> Path:
        return self.points_dir / f"{point_id}.parquet"

    def done(self) -> set[str]:
        """Ids of the points stored whole."""
        if not self.points_dir.exists():
            return set()
        return {p.stem for p in self.points_dir.glob("*.parquet")}

    def write_point(self, point_id: str, frame: pd.DataFrame) -> None:
        self.points_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.point_path(point_id), lambda p: frame.to_parquet(p, index=False))

    def read_point(self, point_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.point_path(point_id))

    # -- results --------------------------------------------------------------------
    def write_failures(self, failures: list[dict[str, Any]], total: int | None = None) -> None:
        """Record the failed points: ``failures.json`` in full (removed when none failed) and, so a
        reader of ``sweep.json`` sees them too, its ``failed`` list (point, params, error) and
        ``points`` (the grid's size, when ``total`` is given)."""
        path = self.dir / "failures.json"
        if failures:
            atomic_write(path, lambda p: Path(p).write_text(json.dumps(failures, indent=2, default=str)))
        else:
            path.unlink(missing_ok=True)
        meta_path = self.dir / "sweep.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            meta["failed"] = [{k: f.get(k) for k in ("point", "params", "error")} for f in failures]
            if total is not None:
                meta["points"] = int(total)
            atomic_write(meta_path, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str)))

    def read_failures(self) -> list[dict[str, Any]]:
        path = self.dir / "failures.json"
        return json.loads(path.read_text()) if path.exists() else []

    def write_summary(self, summary: pd.DataFrame) -> None:
        atomic_write(self.dir / "summary.parquet", lambda p: summary.to_parquet(p, index=False))
        atomic_write(self.dir / "summary.csv", lambda p: summary.to_csv(p, index=False))

    def arguments(self) -> dict[str, Any]:
        return json.loads((self.dir / "sweep.json").read_text())["arguments"]

    def total_points(self) -> int | None:
        """How many points the stored sweep's grid has (from its arguments), or ``None``."""
        try:
            vary = self.arguments()["vary"]
        except (OSError, KeyError, ValueError):
            return None
        total = 1
        for _, values in vary:
            total *= len(values)
        return total
