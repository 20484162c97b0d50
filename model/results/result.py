"""``SimulationResult``: the event log and the metrics of a run, as pandas frames."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .metrics import METRICS, TARGET_METRICS, Tally, summarise

EVENT_COLUMNS = ["replication", "time", "contact", "service", "event", "from_state", "to_state", "agent", "group", "target"]
TRANSFER_COLUMNS = [
    "replication", "contact", "service", "group", "target", "requested_at",
    "outcome", "ended_at", "time_to_join", "offers", "rejects", "counted",
]
TIMELINE_COLUMNS = ["replication", "time", "group", "waiting_transfers", "busy_slots", "slots", "arrivals"]


def per_replication_rows(
    replication: int,
    by_service: dict[str, Tally],
    by_target: dict[str, Tally],
    occupancy: dict[str, float],
) -> list[tuple[int, str, str, str, float]]:
    """Tidy ``(replication, scope, key, metric, value)`` rows for one replication."""
    rows: list[tuple[int, str, str, str, float]] = []
    overall = Tally(0.0)
    for name, tally in by_service.items():
        overall.merge(tally)
        for metric, value in tally.figures().items():
            rows.append((replication, "service", name, metric, value))
    for metric, value in overall.figures().items():
        rows.append((replication, "overall", "all", metric, value))
    for name, tally in by_target.items():
        figures = tally.figures()
        for metric in TARGET_METRICS:
            rows.append((replication, "target", name, metric, figures[metric]))
    for group, value in occupancy.items():
        rows.append((replication, "group", group, "agent_occupancy", value))
    return rows


def _fmt(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class SimulationResult:
    """A run of a scenario over replications.

    Attributes:
        scenario: the validated scenario that was run.
        seed: the base seed; replication ``i`` uses the streams of ``(seed, i)``.
        replications: how many replications were run.
        per_replication: tidy ``replication, scope, key, metric, value``.
        metrics: tidy ``scope, key, metric, mean, ci_low, ci_high, n`` (95 % t interval).
        events: one row per transition (``None`` when run with ``keep_events=False``).
        transfers: one row per transfer request (``None`` when run with ``keep_events=False``).
        timeline: per group, sampled over simulated time.
    """

    scenario: Any
    seed: int
    replications: int
    per_replication: pd.DataFrame
    events: pd.DataFrame | None = None
    transfers: pd.DataFrame | None = None
    timeline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMELINE_COLUMNS))
    metrics: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = summarise(self.per_replication)

    def metric(self, name: str, scope: str = "overall", key: str = "all") -> tuple[float, float, float]:
        """``(mean, ci_low, ci_high)`` of one figure, e.g. ``metric("transfer_abandonment_rate",
        "target", "billing")``."""
        m = self.metrics
        row = m[(m.scope == scope) & (m.key == key) & (m.metric == name)]
        if row.empty:
            known = sorted(set(m[m.scope == scope].key)) if scope in set(m.scope) else []
            raise KeyError(f"no metric {name!r} for {scope} {key!r}; keys of {scope}: {known}")
        r = row.iloc[0]
        return (float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]))

    def table(self, scope: str = "overall", key: str = "all", metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """The figures of one scope/key as a readable frame indexed by metric name."""
        m = self.metrics
        sel = m[(m.scope == scope) & (m.key == key)].set_index("metric")[["mean", "ci_low", "ci_high", "n"]]
        if metrics is not None:
            sel = sel.reindex([x for x in metrics if x in sel.index])
        return sel

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: ``{"scenario", "replications", "seed", "metrics": {"overall",
        "by_service", "by_target", "by_group"}}``, each figure ``{"mean": x, "ci95": [lo, hi]}``."""
        out: dict[str, Any] = {"overall": {}, "by_service": {}, "by_target": {}, "by_group": {}}
        where = {"overall": None, "service": "by_service", "target": "by_target", "group": "by_group"}
        for r in self.metrics.itertuples(index=False):
            entry = {"mean": _fmt(r.mean), "ci95": [_fmt(r.ci_low), _fmt(r.ci_high)]}
            if r.scope == "overall":
                out["overall"][r.metric] = entry
            else:
                out[where[r.scope]].setdefault(r.key, {})[r.metric] = entry
        return {
            "scenario": getattr(self.scenario, "name", None),
            "replications": self.replications,
            "seed": self.seed,
            "metrics": out,
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (NaN written as ``null``)."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_parquet(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``events.parquet`` (when kept), ``transfers.parquet``, ``timeline.parquet``,
        ``per_replication.parquet``, ``metrics.csv`` and ``run.json`` into ``directory``.

        Each file is written to a temporary name and renamed, so a crash never leaves a
        half-written file behind.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        frames = {
            "events.parquet": self.events,
            "transfers.parquet": self.transfers,
            "timeline.parquet": self.timeline,
            "per_replication.parquet": self.per_replication,
        }
        for name, frame in frames.items():
            if frame is not None:
                atomic_write(d / name, lambda p, f=frame: f.to_parquet(p, index=False))
        atomic_write(d / "metrics.csv", lambda p: self.metrics.to_csv(p, index=False))
        meta = self.to_dict()
        if hasattr(self.scenario, "to_dict"):
            meta["scenario_definition"] = self.scenario.to_dict()
        atomic_write(d / "run.json", lambda p: Path(p).write_text(json.dumps(meta, indent=2, default=str)))
        return d

    @classmethod
    def from_parquet(cls, directory: str | os.PathLike[str]) -> SimulationResult:
        """Read back what :meth:`to_parquet` wrote (the scenario as reloaded from ``run.json``)."""
        d = Path(directory)
        meta = json.loads((d / "run.json").read_text())
        scenario: Any = meta.get("scenario")
        if "scenario_definition" in meta:
            from ..scenario import scenario_from_dict

            scenario = scenario_from_dict(meta["scenario_definition"])

        def read(name: str) -> pd.DataFrame | None:
            p = d / name
            return pd.read_parquet(p) if p.exists() else None

        return cls(
            scenario=scenario,
            seed=meta["seed"],
            replications=meta["replications"],
            per_replication=read("per_replication.parquet"),  # type: ignore[arg-type]
            events=read("events.parquet"),
            transfers=read("transfers.parquet"),
            timeline=read("timeline.parquet") if (d / "timeline.parquet").exists() else pd.DataFrame(columns=TIMELINE_COLUMNS),
        )


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp)`` then rename ``tmp`` to ``path``; nothing is left behind on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["SimulationResult", "METRICS", "EVENT_COLUMNS", "TRANSFER_COLUMNS", "TIMELINE_COLUMNS", "per_replication_rows"]
