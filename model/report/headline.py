"""The report's opening sentences: the answer in plain words, computed from a run, a sweep or a
tuning (the first thing a supervisor reads)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..charts.frames import default_key, held_text, hold, number, numeric, param_columns, param_label, recommended_setting
from ..charts.runs import CONTACT_ENDS, timeouts_by_target
from ..results.figures import figure
from ..results.outcomes import OUTCOME_FIGURES, OUTCOMES, transfer_outcomes
from ..results.scopes import UnknownScope, parse_scope
from .answers import about, cost_words, tune_answer
from .scenario_rows import scenario_value
from .words import agents_text, pct, pct_ci, seconds_text, target_name, target_text, value_ci

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["headline", "sweep_headline", "tune_headline", "transfer_targets", "timeout_path"]

_LOST = "transfer_abandonment_rate"


def _figure(result: SimulationResult, name: str, scope: str, key: str) -> tuple[float, float, float]:
    try:
        return result.metric(name, scope, key)
    except (KeyError, UnknownScope):  # no such scope or key in this run: no value, said as "-"
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


def headline(result: SimulationResult, target: float | None = None, scopes: Sequence[str] | None = None) -> list[str]:
    """The answer of a run in plain words, then the evidence.

    First, what the settings as configured achieve for each scope (default: every transfer target,
    most transfers first): the share of transfers lost with its 95 % range, judged against
    ``target``; then what it costs (agent-hours per simulated run and occupancy of the receiving
    groups) and, when a target is missed, how to find the setting that meets it. Then how the lost
    transfers split (timer expired, customer left, returned), the bottleneck, and the contacts that
    did not end completed."""
    chosen = [parse_scope(s) for s in scopes] if scopes else [("target", t) for t in transfer_targets(result)]
    chosen = [(k, v) for k, v in chosen if not math.isnan(_figure(result, "transfers_requested", k, v)[0])
              and _figure(result, "transfers_requested", k, v)[0] > 0]
    if not chosen:
        return ["No transfers were requested in this run."] + _contacts(result)
    out = [_as_configured(result, chosen, target)]
    cost = cost_words(_hours(result, chosen), _occupancy(result, chosen))
    missed = [(k, v) for k, v in chosen if target is not None and _figure(result, _LOST, k, v)[2] > target]
    step = ""
    if missed:
        k, v = max(missed, key=lambda s: _figure(result, _LOST, *s)[0])  # the worst first
        group = v if k == "target" and v in {g.name for g in result.scenario.groups} else None
        step = (f" To find how many {group} agents meet the target, tune the number of {group} agents against it "
                "(the tune command; docs/experiments.md)." if group else
                " To find a setting that meets it, sweep or tune the staffing of the group that receives the transfers.")
    if cost or step:
        out.append((f"That takes {cost}." if cost else "").strip() + step)
    out += [_split(result, k, v) for k, v in chosen]
    out += _bottleneck(result) + _contacts(result)
    return [s.strip() for s in out if s]


def _as_configured(result: SimulationResult, chosen: Sequence[tuple[str, str]], target: float | None) -> str:
    by_timeout: dict[float | None, list[str]] = {}
    for k, v in chosen:
        timeout = _timeout_for(result, v) if k == "target" else None
        by_timeout.setdefault(timeout, []).append(f"{pct_ci(*_figure(result, _LOST, k, v))} of {about(k, v)}")
    parts = []
    for timeout, pieces in by_timeout.items():
        lead = f"with the {seconds_text(timeout)} transfer timeout, " if timeout is not None else ""
        parts.append(f"{lead}{_and(pieces)}")
    text = "As configured, " + "; ".join(parts) + " are lost before an agent joins."
    if target is None:
        return text
    info = figure(_LOST)
    judged = []
    for k, v in chosen:
        hi = _figure(result, _LOST, k, v)[2]
        ok = hi <= target
        judged.append(f"{about(k, v)} {'meet' if ok else 'miss'} it (upper 95 % bound {info.text(hi)})")
    return text + f" Against the {target_text(info, target)} target: " + "; ".join(judged) + "."


def _hours(result: SimulationResult, chosen: Sequence[tuple[str, str]]) -> dict[str, float]:
    m = result.metrics
    hours = float(result.scenario.simulation.horizon) / 3600.0
    staffed = m[(m.scope == "group") & (m.metric == "staffed_agents")].set_index("key")["mean"]
    return {v: float(staffed[v]) * hours for k, v in chosen if k == "target" and v in staffed.index}


def _occupancy(result: SimulationResult, chosen: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float, float]]:
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")].set_index("key")
    return {v: (float(occ.loc[v, "mean"]), float(occ.loc[v, "ci_low"]), float(occ.loc[v, "ci_high"]))
            for k, v in chosen if k == "target" and v in occ.index}


def _split(result: SimulationResult, kind: str, key: str) -> str:
    """How the scope's transfer requests ended, in words (joined, returned, timer expired, customer left)."""
    shares = transfer_outcomes(result.per_replication, kind, key)
    if shares["transfer_joined_share"][0] != shares["transfer_joined_share"][0]:
        return ""
    returns = any(s.on_transfer_timeout == "return" for s in result.scenario.services)
    words = [f"{OUTCOME_FIGURES[n].label} {pct_ci(*shares[n])}" for n in OUTCOMES
             if n != "transfer_returned_share" or returns]  # returned only under the return policy
    return f"Of {about(kind, key)}: " + ", ".join(words) + "."


def _bottleneck(result: SimulationResult) -> list[str]:
    """The target group losing the largest share of its transfers, with its occupancy and staffing."""
    targets = transfer_targets(result)
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")].set_index("key")
    groups = {g.name: g for g in result.scenario.groups}
    if not targets:
        if occ.empty:
            return []
        r = occ.sort_values("mean", ascending=False).iloc[0]
        return [f"The busiest group is {r.name}: its chat slots are busy "
                f"{pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time."]
    worst = max(targets, key=lambda t: _figure(result, _LOST, "target", t)[0])
    lost = _figure(result, _LOST, "target", worst)
    text = f"The bottleneck is {target_name(worst)}: it loses {pct(lost[0])} % of the transfers sent to it"
    if worst in occ.index:
        r = occ.loc[worst]
        text += f", with its chat slots busy {pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time"
    g = groups.get(worst)
    if g is not None:
        count = agents_text(g.agents)
        rota = " by the rota" if count != str(g.agents) else ""
        text += (f" ({count} agent{'s' if count != '1' else ''}{rota} x {g.max_concurrent} "
                 f"chat{'s' if g.max_concurrent != 1 else ''})")
    return [text + "."]


def _contacts(result: SimulationResult) -> list[str]:
    arr = _figure(result, "arrivals", "overall", "all")[0]
    done = _figure(result, "abandonment_rate", "overall", "all")
    if arr != arr:
        return []
    other_ends = ", ".join(figure(s).label for s in CONTACT_ENDS if s != "completed")
    return [f"Of about {arr:,.0f} contacts per simulated run, {pct_ci(*done)} do not end completed ({other_ends})."]


def timeout_path(frame: pd.DataFrame) -> str | None:
    """The varied path of a transfer timeout, if the sweep varied one."""
    for p in param_columns(frame):
        if p.endswith(".transfer_timeout"):
            return p
    return None


def _who(scope: str, key: str) -> str:
    return {"target": f"transfers to {key}", "overall": "all contacts"}.get(scope, f"{scope} {key}")


def sweep_headline(frame: pd.DataFrame, scenario: Scenario | None = None, target: float | None = None,
                   key: str | None = None, *, scope: str = "target", metric: str = _LOST,
                   fixed: Mapping[str, Any] | None = None) -> list[str]:
    """The answer of a sweep: for a timeout path, "With a 60 s timeout, X % (lo–hi %) of transfers to
    billing expire or are abandoned; 90 s brings that to Y % (lo–hi %)."; for other paths the same
    comparison between the scenario's value (or the first) and the recommended (or the last).

    ``scope`` and ``metric`` name the figure compared (a tuning explores one figure of one scope);
    any other than the transfer abandonment of a target is said with its label, e.g. "mean time to
    join for all contacts is 12.3 s (...)". Other varied settings are held at ``fixed`` (default:
    the scenario's values where the sweep has them, else their first).
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
    if fixed is None:
        fixed = {p: scenario_value(scenario, p) for p in params if p != path} if scenario is not None else {}
    fixed = {p: v for p, v in fixed.items() if p != path and v is not None and (numeric(sel[p]) == number(v)).any()}
    sel, held = hold(sel, params, [path], fixed)
    sel = sel.assign(_x=numeric(sel[path])).sort_values("_x")
    base_v = scenario_value(scenario, path) if scenario is not None else None
    xs = list(sel["_x"])
    base_n = number(base_v) if isinstance(base_v, (int, float, str)) else math.nan
    base_x = base_n if base_n in xs else xs[0]
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
        out.append(f"Other varied settings held at: {held_text(held)}.")
    if target is not None:
        bound = "lower" if info.better == "higher" else "upper"
        goal = target_text(info, target)
        if rec is not None:
            out.append(f"The smallest {label} whose {bound} 95 % bound meets the {goal} target is {fmt(number(rec))}.")
        else:
            out.append(f"No {label} in the sweep meets the {goal} target with 95 % confidence.")
    return out


def tune_headline(tune: Mapping[str, Any]) -> list[str]:
    """The answer of a tuning (``TuneResult.to_dict()``): :func:`.answers.tune_answer`; nothing when
    the mapping is not a tuning's."""
    return tune_answer(tune)
