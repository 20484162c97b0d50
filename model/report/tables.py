"""The report's tables: the figures of a run (a row per figure, a column per scope), agent
occupancy and agent-hours, the sweep (a row per point), the tuning (the settings it tried and how
it searched). Headers and row labels are words; the metric names and paths travel in ``ids`` (the
page's data attributes).

Which figures each table shows is chosen here; how a figure is written (unit, format, meaning)
is its record in :mod:`model.results.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..charts.frames import number, param_columns, param_label
from ..results.figures import FigureInfo, figure
from ..results.outcomes import OUTCOME_FIGURES, OUTCOMES, transfer_outcomes
from .answers import whose
from .headline import transfer_targets
from .words import FAILED, target_name, target_text, value_text

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = ["TABLE_FIGURES", "SWEEP_FIGURES", "figures_table", "occupancy_rows", "sweep_table", "tune_table",
           "tune_facts"]

TABLE_FIGURES: tuple[str, ...] = (
    "arrivals", "completed", "transfers_requested", "transfers_accepted",
    "transfer_abandonment_rate", "transfer_success_rate", "transfer_service_level",
    "time_to_join_mean", "time_to_join_p90", "queue_abandonment_rate",
    "abandonment_rate", "service_level", "wait_mean", "rejects_per_transfer", "offers_per_transfer",
)
"""The figures of a run's table, in this order."""

SWEEP_FIGURES: tuple[str, ...] = ("transfer_abandonment_rate", "transfer_success_rate", "time_to_join_p90")
"""The figures of the sweep table, per point (those the sweep frame has; a tuning has one)."""

def _interval(name: str, mean: float, lo: float, hi: float, info: FigureInfo | None = None) -> str:
    info = info or figure(name)
    return f"{info.text(mean)} ({info.text(lo)} – {info.text(hi)})"


def _column(result: SimulationResult, scope: str, key: str) -> dict[str, str]:
    table = result.table(scope, key)
    cells = {name: _interval(name, *(float(table.loc[name, c]) for c in ("mean", "ci_low", "ci_high")))
             for name in TABLE_FIGURES if name in table.index}
    if "transfers_requested" in table.index:
        shares = transfer_outcomes(result.per_replication, scope, key)
        cells.update({n: _interval(n, *v, info=OUTCOME_FIGURES[n]) for n, v in shares.items()})
    return cells


def _label(name: str) -> str:
    info = OUTCOME_FIGURES.get(name) or figure(name)
    return f"of which {info.label}" if name in OUTCOME_FIGURES else info.label


def figures_table(result: SimulationResult) -> dict[str, Any]:
    """One table: a row per figure (its label; its name in ``ids``), a column per scope ("All
    contacts", then each transfer target, most transfers first); each cell "mean (low – high)",
    blank where the scope has no such figure. After the transfer success row, how the transfer
    requests ended: joined, returned, timer expired, customer left."""
    columns = [("All contacts", _column(result, "overall", "all"))]
    columns += [(f"Transfers to {target_name(t)}", _column(result, "target", t)) for t in transfer_targets(result)]
    names = [n for n in TABLE_FIGURES if n in columns[0][1]]
    if any(OUTCOMES[0] in cells for _, cells in columns):
        at = names.index("transfer_success_rate") + 1 if "transfer_success_rate" in names else len(names)
        names[at:at] = list(OUTCOMES)
    infos = {**{n: figure(n) for n in names if n not in OUTCOME_FIGURES}, **OUTCOME_FIGURES}
    return {
        "title": "Figures, mean (95 % range)",
        "header": ["figure"] + [c for c, _ in columns],
        "ids": names,
        "rows": [[_label(n)] + [cells.get(n, "") for _, cells in columns] for n in names],
        "definitions": {n: infos[n].definition for n in names},
    }


def occupancy_rows(result: SimulationResult) -> list[dict[str, str]]:
    """Agent occupancy and agent-hours per group: ``group``, ``mean``, ``ci`` (``"61.0 % – 64.2 %"``),
    ``hours`` (agent-hours on shift per simulated run)."""
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")]
    staffed = m[(m.scope == "group") & (m.metric == "staffed_agents")].set_index("key")["mean"]
    horizon = float(result.scenario.simulation.horizon) / 3600.0 if hasattr(result.scenario, "simulation") else None
    info = figure("agent_occupancy")
    return [{"group": str(r.key), "mean": info.text(r.mean), "ci": f"{info.text(r.ci_low)} – {info.text(r.ci_high)}",
             "hours": f"{staffed[r.key] * horizon:,.0f}" if horizon and r.key in staffed.index else "-"}
            for r in occ.itertuples()]


def sweep_table(frame: pd.DataFrame, key: str | None, failures: Sequence[Mapping[str, Any]] | None = None,
                *, scope: str = "target", target: float | None = None, groups: Sequence[str] = ()) -> dict[str, Any]:
    """The sweep table for one scope: a row per point - the varied settings, the figures of
    ``SWEEP_FIGURES`` the frame has (else its own) for ``scope``/``key``, whether the first meets
    ``target`` with 95 % confidence, and the occupancy of ``groups`` - as ``{"title", "header",
    "ids", "rows"}``; headers are words, ``ids`` the paths and metric names. A failed point's
    figures read "failed"."""
    params = param_columns(frame)
    present = set(frame["metric"]) if len(frame) else set()
    wanted = [m for m in SWEEP_FIGURES if m in present] or list(dict.fromkeys(frame["metric"]))
    groups = [g for g in groups if ((frame.scope == "group") & (frame.key.astype(str) == g)).any()] if len(frame) else []
    header = [param_label(p) for p in params]
    ids = list(params)
    if key:
        header += [figure(m).label for m in wanted]
        ids += list(wanted)
        if target is not None:
            header.append(f"meets the {target_text(figure(wanted[0]), target)} target")
            ids.append("meets")
        header += [f"{figure('agent_occupancy').label}: {g}" for g in groups]
        ids += ["agent_occupancy"] * len(groups)
    else:
        header.append("result")
        ids.append("")
    rows = _sweep_rows(frame, key, params, wanted, scope, target, groups) if key else []
    failed = [f for f in failures or [] if all(p in (f.get("params") or {}) for p in params)]
    if failed:
        keyed = [(tuple(r[: len(params)]), r) for r in rows]
        keyed += [(tuple(value_text(f["params"][p]) for p in params),
                   [value_text(f["params"][p]) for p in params] + [FAILED] * (len(header) - len(params)))
                  for f in failed]
        rows = [r for _, r in sorted(keyed, key=_order)]
    who = whose(figure(wanted[0]), scope, key) if key and wanted else ""
    return {"title": f"Every setting of the sweep: {who}" if who else "Every setting of the sweep",
            "header": header, "ids": ids, "rows": rows}


def _order(item: tuple[tuple[str, ...], list[str]]) -> tuple[Any, ...]:
    out = []
    for v in item[0]:
        x = number(v)
        out.append((0, x, "") if x == x else (1, 0.0, v))
    return tuple(out)


def _sweep_rows(frame: pd.DataFrame, key: str, params: list[str], wanted: list[str], scope: str,
                target: float | None, groups: Sequence[str]) -> list[list[str]]:
    sel = frame[(frame.scope == scope) & (frame.key.astype(str) == key) & (frame.metric.isin(wanted))]
    occ = frame[(frame.scope == "group") & (frame.metric == "agent_occupancy")]
    better = figure(wanted[0]).better
    rows = []
    for values, g in sel.groupby(params, sort=True, observed=True):
        values = values if isinstance(values, tuple) else (values,)
        cells = [value_text(v) for v in values]
        by = g.set_index("metric")
        for m in wanted:
            if m not in by.index:
                cells.append("-")
                continue
            r = by.loc[m]
            cells.append(_interval(m, r["mean"], r["ci_low"], r["ci_high"]))
        if target is not None:
            bound = by.loc[wanted[0], "ci_low" if better == "higher" else "ci_high"] if wanted[0] in by.index else None
            ok = bound is not None and bound == bound and (bound >= target if better == "higher" else bound <= target)
            cells.append("yes" if ok else "no")
        here = occ
        for p, v in zip(params, values):
            here = here[here[p] == v]
        here = here.set_index(here["key"].astype(str))
        cells += [_interval("agent_occupancy", *here.loc[grp, ["mean", "ci_low", "ci_high"]]) if grp in here.index
                  else "-" for grp in groups]
        rows.append(cells)
    return rows


def tune_table(tune: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The settings a tuning tried, as a table in words (``title``, ``header``, ``ids``, ``rows``):
    the setting, the figure with its 95 % range, whether it meets the target, and the search step
    that tried it; ``None`` when ``tune`` is not a tuning's outcome."""
    if not isinstance(tune, Mapping) or "param" not in tune or "metric" not in tune:
        return None
    param, metric = str(tune["param"]), str(tune["metric"])
    info = figure(metric)
    goal = target_text(info, float(tune["target"]))
    rows = []
    for r in sorted(tune.get("explored") or [], key=lambda r: number(r.get(param))):
        mean, lo, hi = (math.nan if r.get(c) is None else float(r[c]) for c in ("mean", "ci_low", "ci_high"))
        rows.append([value_text(r.get(param)), _interval(metric, mean, lo, hi), "yes" if r.get("meets") else "no",
                     _STAGES.get(str(r.get("stage")), str(r.get("stage", "")))])
    who = whose(info, str(tune.get("scope", "overall")), str(tune.get("key", "all")))
    return {"title": "Settings the tuning tried",
            "header": [param_label(param), f"{info.label}, {who}", f"meets the {goal} target", "tried in"],
            "ids": [param, metric, "meets", "stage"], "rows": rows}


_STAGES = {"grid": "the first, even pass", "bisect": "the narrowing down"}


def tune_facts(tune: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """How a tuning searched, as ``(question, answer)`` rows in words (never its raw record)."""
    if not isinstance(tune, Mapping) or "param" not in tune or "metric" not in tune:
        return []
    info = figure(str(tune["metric"]))
    kind, key = str(tune.get("scope", "overall")), str(tune.get("key", "all"))
    reason = str(tune.get("scope_reason") or "as given")
    better = "lower" if tune.get("direction", info.better) != "higher" else "higher"
    bound = "upper" if better == "lower" else "lower"
    label = param_label(str(tune["param"])).split(" (")[0]
    why = ("as asked" if reason == "as given" else
           f"because the tuning varies the {label}" if reason.startswith("derived from") else
           f"the {label} is not the staffing of a group that receives transfers")
    facts = [
        ("Figure", f"{info.label}, for {whose(info, kind, key)} ({why})"),
        ("Target", f"{'at or under' if better == 'lower' else 'at or above'} {target_text(info, float(tune['target']))}, "
                   f"even at the {bound} end of the 95 % range"),
        ("Setting searched", param_label(str(tune["param"]))),
        ("Simulated runs per setting", f"{tune.get('replications')} (seed {tune.get('seed')}, the same customers "
                                       "at every setting)"),
        ("How", "an even first pass over the range, then halving the gap between the last setting that misses "
                "and the first that meets; this assumes more of the setting never makes the figure worse"),
    ]
    if tune.get("monotone") is False:
        facts.append(("Warning", "the settings tried contradict that assumption: one that meets is followed by "
                                 "one that does not; check the table below"))
    return facts
