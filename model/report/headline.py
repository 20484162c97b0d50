"""The report's opening sentences: the answer in plain words, computed from a run, a sweep or a
tuning (the first thing a supervisor reads)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..charts.frames import default_key, hold, number, numeric, param_columns, param_label, recommended_setting
from ..charts.runs import CONTACT_ENDS, timeouts_by_target
from ..results.figures import figure
from .scenario_rows import scenario_value
from .words import agents_text, pct, pct_ci, seconds_text, target_text, value_ci, value_text

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["headline", "sweep_headline", "tune_headline", "transfer_targets", "timeout_path"]

_LOST = "transfer_abandonment_rate"


def _figure(result: SimulationResult, name: str, scope: str, key: str) -> tuple[float, float, float]:
    try:
        return result.metric(name, scope, key)
    except KeyError:  # no such scope or key in this run: no value, said as "-"
        return (math.nan, math.nan, math.nan)


def transfer_targets(result: SimulationResult) -> list[str]:
    """The targets that received transfers, most transfers first."""
    m = result.metrics
    sel = m[(m.scope == "target") & (m.metric == "transfers_requested") & (m["mean"] > 0)]
    return [str(k) for k in sel.sort_values("mean", ascending=False)["key"]]


def _timeout_for(result: SimulationResult, target: str) -> float | None:
    t = timeouts_by_target(result)
    v = t.get(target, t.get("*"))
    return None if v is None or v != v else v


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def headline(result: SimulationResult, target: float | None = None) -> list[str]:
    """The answer in plain words, computed from a run: per transfer target the share of transfers
    that expire or are abandoned (with the timeout that applies), then the bottleneck group."""
    out: list[str] = []
    targets = transfer_targets(result)
    parts = []
    by_timeout: dict[float | None, list[str]] = {}
    for t in targets:
        by_timeout.setdefault(_timeout_for(result, t), []).append(t)
    for timeout, names in by_timeout.items():
        pieces = [f"{pct_ci(*_figure(result, _LOST, 'target', t))} of transfers to {t}" for t in names]
        lead = f"With a {seconds_text(timeout)} timeout, " if timeout is not None else ""
        parts.append(f"{lead}{_and(pieces)} expire or are abandoned")
    if parts:
        text = "; ".join(parts) + "."
        if target is not None:
            over = [t for t in targets if _figure(result, _LOST, "target", t)[0] > target]
            if over:
                text += f" That is above the {100 * target:g} % target for {_and(over)}."
            else:
                text += f" All targets are within the {100 * target:g} % target."
        out.append(text)
    else:
        out.append("No transfers were requested in this run.")
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")].set_index("key")
    groups = {g.name: g for g in result.scenario.groups}
    if targets:
        # the bottleneck: the target group losing the largest share of its transfers
        worst = max(targets, key=lambda t: _figure(result, _LOST, "target", t)[0])
        lost = _figure(result, _LOST, "target", worst)
        text = f"The bottleneck is {worst}: it loses {pct(lost[0])} % of the transfers sent to it"
        if worst in occ.index:
            r = occ.loc[worst]
            text += f", with its chat slots busy {pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time"
        g = groups.get(worst)
        if g is not None:
            count = agents_text(g.agents)
            rota = " by the rota" if count != str(g.agents) else ""
            text += (f" ({count} agent{'s' if count != '1' else ''}{rota} x {g.max_concurrent} "
                     f"chat{'s' if g.max_concurrent != 1 else ''})")
        out.append(text + ".")
    elif not occ.empty:
        r = occ.sort_values("mean", ascending=False).iloc[0]
        out.append(f"The busiest group is {r.name}: its chat slots are busy "
                   f"{pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time.")
    arr = _figure(result, "arrivals", "overall", "all")[0]
    done = _figure(result, "abandonment_rate", "overall", "all")
    if arr == arr:
        other_ends = ", ".join(figure(s).label for s in CONTACT_ENDS if s != "completed")
        out.append(f"Of about {arr:,.0f} contacts per replication, {pct_ci(*done)} do not end completed "
                   f"({other_ends}).")
    return out


def timeout_path(frame: pd.DataFrame) -> str | None:
    """The varied path of a transfer timeout, if the sweep varied one."""
    for p in param_columns(frame):
        if p.endswith(".transfer_timeout"):
            return p
    return None


def _who(scope: str, key: str) -> str:
    return {"target": f"transfers to {key}", "overall": "all contacts"}.get(scope, f"{scope} {key}")


def sweep_headline(frame: pd.DataFrame, scenario: Scenario | None = None, target: float | None = None,
                   key: str | None = None, *, scope: str = "target", metric: str = _LOST) -> list[str]:
    """The answer of a sweep: for a timeout path, "With a 60 s timeout, X % (lo–hi %) of transfers to
    billing expire or are abandoned; 90 s brings that to Y % (lo–hi %)."; for other paths the same
    comparison between the scenario's value (or the first) and the recommended (or the last).

    ``scope`` and ``metric`` name the figure compared (a tuning explores one figure of one scope);
    any other than the transfer abandonment of a target is said with its label, e.g. "mean time to
    join for all contacts is 12.3 s (...)".
    """
    params = param_columns(frame)
    if not params:
        return ["The sweep varied nothing."]
    info = figure(metric)
    path = timeout_path(frame) or params[0]
    key = key or default_key(frame, scope)
    sel = frame[(frame.scope == scope) & (frame.key.astype(str) == key) & (frame.metric == metric)]
    if sel.empty:
        return [f"The sweep has no {metric} for {_who(scope, key)}."]
    fixed = {p: scenario_value(scenario, p) for p in params if p != path} if scenario is not None else {}
    fixed = {p: v for p, v in fixed.items() if v is not None and (numeric(sel[p]) == number(v)).any()}
    sel, held = hold(sel, params, [path], fixed)
    sel = sel.assign(_x=numeric(sel[path])).sort_values("_x")
    base_v = scenario_value(scenario, path) if scenario is not None else None
    xs = list(sel["_x"])
    base_x = float(base_v) if base_v is not None and float(base_v) in xs else xs[0]
    rec = (recommended_setting(frame, path, target=target, metric=metric, scope=scope, key=key, fixed=held)
           if target is not None else None)
    other_x = number(rec) if rec is not None else xs[-1]
    if other_x == base_x:
        other_x = xs[-1] if base_x != xs[-1] else xs[0]
    row = {x: r for x, r in zip(xs, sel.itertuples(index=False))}
    b, o = row[base_x], row[other_x]
    is_timeout = path.endswith("transfer_timeout")
    fmt = seconds_text if is_timeout else (lambda v: f"{v:g}")
    label = param_label(path).split(" (")[0]
    setting = f"With a {fmt(base_x)} timeout" if is_timeout else f"With {label} at {fmt(base_x)}"
    if scope == "target" and metric == _LOST:
        first = f"{setting}, {pct_ci(b.mean, b.ci_low, b.ci_high)} of transfers to {key} expire or are abandoned"
    else:
        first = f"{setting}, {info.label} for {_who(scope, key)} is {value_ci(info, b.mean, b.ci_low, b.ci_high)}"
    out = [f"{first}; {fmt(other_x)} brings that to {value_ci(info, o.mean, o.ci_low, o.ci_high)}."]
    if held:
        out.append("Other varied settings held at: " + ", ".join(f"{k} = {v}" for k, v in held.items()) + ".")
    if target is not None:
        bound = "lower" if info.better == "higher" else "upper"
        goal = target_text(info, target)
        if rec is not None:
            out.append(f"The smallest {label} whose {bound} 95 % bound meets the {goal} target is {fmt(number(rec))}.")
        else:
            out.append(f"No {label} in the sweep meets the {goal} target with 95 % confidence.")
    return out


def tune_headline(tune: Mapping[str, Any]) -> list[str]:
    """The answer of a tuning (``TuneResult.to_dict()``): the recommended setting and why, or why
    none; nothing when the mapping is not a tuning's."""
    if "param" not in tune or "reason" not in tune:
        return []
    label = param_label(str(tune["param"])).split(" (")[0]
    rec = tune.get("recommended")
    if rec is None:
        return [f"No {label} in the range explored meets the target: {tune['reason']}."]
    return [f"Recommended {label}: {value_text(rec)} ({tune['reason']})."]
