"""The HTML report: one self-contained file (charts embedded as data URIs, inline CSS, no network),
plus the charts as PNG files beside it.

Why: a supervisor opens one file and reads the answer first, in plain words, then the scenario,
the charts and the tables. Everything in it is computed from a :class:`SimulationResult` and,
for experiments, from the tidy sweep frame (see :mod:`model.charts`).

A sweep whose points failed says so first ("N of M points failed"), marks each failed point
"failed" in the heat map (a grey hatched cell), on the line chart and in the table, and lists the
failed points with their reasons under the charts: a blank cell is never left unexplained.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import TransferSimError

__all__ = ["build_report", "headline", "sweep_headline", "failures_headline", "load_results", "load_failures",
           "ReportError", "TEMPLATE"]

TEMPLATE = "template.html.j2"


class ReportError(TransferSimError, ValueError):
    """The results cannot be reported (a folder that holds no results, a sweep without its scenario)."""


# -- numbers in words ------------------------------------------------------------------------------

def _pct(x: float) -> str:
    if x is None or x != x:
        return "-"
    x = min(max(float(x), 0.0), 1.0)
    return f"{100 * x:.1f}"


def _pct_ci(mean: float, lo: float, hi: float) -> str:
    """``7.2 % (6.5–7.9 %)``, the interval clipped to 0–100 %."""
    if mean != mean:
        return "- (no data)"
    return f"{_pct(mean)} % ({_pct(lo)}–{_pct(hi)} %)"


def _seconds(x: float) -> str:
    x = float(x)
    if x >= 120 and x % 60 == 0:
        return f"{x / 60:g} min"
    return f"{x:g} s"


def _duration(x: float | None) -> str:
    if x is None:
        return "none"
    x = float(x)
    if x >= 3600 and x % 3600 == 0:
        return f"{x / 3600:g} h"
    if x >= 60 and x % 60 == 0:
        return f"{x / 60:g} min"
    return f"{x:g} s"


def _figure(result: Any, name: str, scope: str, key: str) -> tuple[float, float, float]:
    try:
        return result.metric(name, scope, key)
    except KeyError:
        return (math.nan, math.nan, math.nan)


def _targets(result: Any) -> list[str]:
    m = result.metrics
    sel = m[(m.scope == "target") & (m.metric == "transfers_requested") & (m["mean"] > 0)]
    return [str(k) for k in sel.sort_values("mean", ascending=False)["key"]]


def _timeout_for(result: Any, target: str) -> float | None:
    from ..charts import _timeouts_by_target

    t = _timeouts_by_target(result)
    v = t.get(target, t.get("*"))
    return None if v is None or v != v else v


# -- the opening sentences -------------------------------------------------------------------------

def headline(result: Any, target: float | None = None) -> list[str]:
    """The answer in plain words, computed from a run: per transfer target the share of transfers
    that expire or are abandoned (with the timeout that applies), then the bottleneck group."""
    out: list[str] = []
    targets = _targets(result)
    parts = []
    by_timeout: dict[float | None, list[str]] = {}
    for t in targets:
        by_timeout.setdefault(_timeout_for(result, t), []).append(t)
    for timeout, names in by_timeout.items():
        pieces = [f"{_pct_ci(*_figure(result, 'transfer_abandonment_rate', 'target', t))} of transfers to {t}"
                  for t in names]
        lead = f"With a {_seconds(timeout)} timeout, " if timeout is not None else ""
        joined = pieces[0] if len(pieces) == 1 else ", ".join(pieces[:-1]) + " and " + pieces[-1]
        parts.append(f"{lead}{joined} expire or are abandoned")
    if parts:
        text = "; ".join(parts) + "."
        if target is not None:
            over = [t for t in targets if _figure(result, "transfer_abandonment_rate", "target", t)[0] > target]
            if over:
                names = over[0] if len(over) == 1 else ", ".join(over[:-1]) + " and " + over[-1]
                text += f" That is above the {100 * target:g} % target for {names}."
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
        worst = max(targets, key=lambda t: _figure(result, "transfer_abandonment_rate", "target", t)[0])
        lost = _figure(result, "transfer_abandonment_rate", "target", worst)
        text = f"The bottleneck is {worst}: it loses {_pct(lost[0])} % of the transfers sent to it"
        if worst in occ.index:
            r = occ.loc[worst]
            text += f", with its chat slots busy {_pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time"
        g = groups.get(worst)
        if g is not None:
            text += f" ({g.agents} agent{'s' if g.agents != 1 else ''} x {g.max_concurrent} chat{'s' if g.max_concurrent != 1 else ''})"
        out.append(text + ".")
    elif not occ.empty:
        r = occ.sort_values("mean", ascending=False).iloc[0]
        out.append(f"The busiest group is {r.name}: its chat slots are busy "
                   f"{_pct_ci(r['mean'], r['ci_low'], r['ci_high'])} of the time.")
    arr = _figure(result, "arrivals", "overall", "all")[0]
    done = _figure(result, "abandonment_rate", "overall", "all")
    if arr == arr:
        out.append(f"Of about {arr:,.0f} contacts per replication, {_pct_ci(*done)} do not end completed "
                   f"(abandoned in queue, dissuaded, abandoned during or expired in a transfer).")
    return out


def _timeout_path(frame: pd.DataFrame) -> str | None:
    from ..charts import param_columns

    for p in param_columns(frame):
        if p.endswith(".transfer_timeout"):
            return p
    return None


def _scenario_value(scenario: Any, path: str) -> Any:
    node: Any = scenario
    try:
        for part in path.split("."):
            if isinstance(node, (list, tuple)):
                names = [getattr(x, "name", None) for x in node]
                node = node[names.index(part)] if part in names else node[int(part)]
            else:
                node = getattr(node, part)
        return node
    except (AttributeError, ValueError, IndexError):
        return None


def sweep_headline(frame: pd.DataFrame, scenario: Any = None, target: float | None = None,
                   key: str | None = None) -> list[str]:
    """The answer of a sweep: for a timeout path, "With a 60 s timeout, X % (lo–hi %) of transfers to
    billing expire or are abandoned; 90 s brings that to Y % (lo–hi %)."; for other paths the same
    comparison between the scenario's value (or the first) and the recommended (or the last)."""
    from ..charts import _default_key, _hold, _numeric, _param_label, param_columns, recommended_setting

    params = param_columns(frame)
    if not params:
        return ["The sweep varied nothing."]
    path = _timeout_path(frame) or params[0]
    key = key or _default_key(frame, "target")
    metric = "transfer_abandonment_rate"
    sel = frame[(frame.scope == "target") & (frame.key.astype(str) == key) & (frame.metric == metric)]
    if sel.empty:
        return [f"The sweep has no {metric} for transfers to {key}."]
    fixed = {p: _scenario_value(scenario, p) for p in params if p != path} if scenario is not None else {}
    fixed = {p: v for p, v in fixed.items() if v is not None and (_numeric(sel[p]) == float(_numeric(pd.Series([v])).iloc[0])).any()}
    sel, held = _hold(sel, params, [path], fixed)
    sel = sel.assign(_x=_numeric(sel[path])).sort_values("_x")
    base_v = _scenario_value(scenario, path) if scenario is not None else None
    xs = list(sel["_x"])
    base_x = float(base_v) if base_v is not None and float(base_v) in xs else xs[0]
    rec = recommended_setting(frame, path, target=target, metric=metric, key=key, fixed=held) if target else None
    other_x = float(_numeric(pd.Series([rec])).iloc[0]) if rec is not None else xs[-1]
    if other_x == base_x:
        other_x = xs[-1] if base_x != xs[-1] else xs[0]
    row = {x: r for x, r in zip(xs, sel.itertuples(index=False))}
    b, o = row[base_x], row[other_x]
    is_timeout = path.endswith("transfer_timeout")
    fmt = _seconds if is_timeout else (lambda v: f"{v:g}")
    label = _param_label(path).split(" (")[0]
    if is_timeout:
        first = f"With a {fmt(base_x)} timeout, {_pct_ci(b.mean, b.ci_low, b.ci_high)} of transfers to {key} expire or are abandoned"
    else:
        first = f"With {label} at {fmt(base_x)}, {_pct_ci(b.mean, b.ci_low, b.ci_high)} of transfers to {key} expire or are abandoned"
    text = f"{first}; {fmt(other_x)} brings that to {_pct_ci(o.mean, o.ci_low, o.ci_high)}."
    out = [text]
    if held:
        out.append("Other varied settings held at: " + ", ".join(f"{k} = {v}" for k, v in held.items()) + ".")
    if target is not None:
        if rec is not None:
            out.append(f"The smallest {label} whose upper 95 % bound meets the {100 * target:g} % target is {fmt(float(_numeric(pd.Series([rec])).iloc[0]))}.")
        else:
            out.append(f"No {label} in the sweep meets the {100 * target:g} % target with 95 % confidence.")
    return out


# -- loading ---------------------------------------------------------------------------------------

def load_results(directory: str | os.PathLike[str]) -> tuple[Any, pd.DataFrame | None]:
    """``(result or scenario, sweep frame or None)`` from a folder written by ``run --out`` or
    ``sweep --out``."""
    d = Path(directory)
    if not d.is_dir():
        raise ReportError(f"{d} is not a folder of results (written by 'transfer-sim run --out' or 'sweep --out')")
    if (d / "run.json").exists():
        from ..results.result import SimulationResult

        return SimulationResult.from_parquet(d), None
    if (d / "summary.parquet").exists():
        frame = pd.read_parquet(d / "summary.parquet")
        scenario = _sweep_scenario(d)
        return scenario, frame
    raise ReportError(f"{d} holds neither run.json (from 'run --out') nor summary.parquet (from 'sweep --out')")


def load_failures(directory: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int | None]:
    """``(failed points, points in the grid)`` of a sweep folder: ``failures.json`` (empty when none
    failed) and the size of the grid from ``sweep.json`` (``None`` when it cannot tell)."""
    from ..experiments.store import SweepStore

    store = SweepStore(directory)
    try:
        failures = store.read_failures()
    except (OSError, ValueError) as err:
        raise ReportError(f"cannot read {Path(directory) / 'failures.json'}: {err}") from err
    return failures, store.total_points()


def _sweep_scenario(d: Path) -> Any:
    meta_path = d / "sweep.json"
    if not meta_path.exists():
        raise ReportError(f"{d} holds summary.parquet but no sweep.json: cannot tell which scenario was swept")
    meta = json.loads(meta_path.read_text())
    args = meta.get("arguments", meta)
    sc = args.get("scenario") if isinstance(args, Mapping) else None
    from ..scenario import load_scenario, scenario_from_dict

    if isinstance(sc, Mapping):
        return scenario_from_dict(dict(sc))
    if isinstance(sc, str) and Path(sc).exists():
        return load_scenario(sc)
    raise ReportError(f"{meta_path} does not name the swept scenario (looked for 'scenario' in its arguments)")


# -- building --------------------------------------------------------------------------------------

def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _scenario_rows(sc: Any) -> dict[str, Any]:
    sim = sc.simulation
    services = [
        {
            "name": s.name,
            "entry_group": s.entry_group,
            "arrivals": _arrivals_text(s.arrivals),
            "transfer_timeout": _seconds(s.transfer_timeout),
            "dissuasion_timeout": _duration(s.dissuasion_timeout),
            "on_timeout": s.on_transfer_timeout,
        }
        for s in sc.services
    ]
    groups = [
        {
            "name": g.name,
            "agents": g.agents,
            "max_concurrent": g.max_concurrent,
            "handle_time": _dist_text(g.handle_time),
            "routing": f"{g.offer_mode}, {g.routing}",
            "transfers": ", ".join(f"{100 * r.probability:g} % to {r.to}" for r in g.transfers) or "none",
        }
        for g in sc.groups
    ]
    return {
        "simulation": {
            "horizon": _duration(sim.horizon),
            "warmup": _duration(sim.warmup),
            "start": sim.start,
            "replications": sim.replications,
            "seed": sim.seed,
        },
        "services": services,
        "groups": groups,
    }


def _dist_text(d: Any) -> str:
    if d is None:
        return "-"
    data = d.model_dump(exclude_none=True) if hasattr(d, "model_dump") else dict(d)
    kind = data.pop("kind", "")
    bits = []
    for k, v in data.items():
        if k.startswith("_"):
            continue
        if k in ("mean", "low", "high", "value", "mode", "scale") and isinstance(v, (int, float)):
            bits.append(f"{k} {_duration(v)}")
        else:
            bits.append(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}")
    return f"{kind} ({', '.join(bits)})" if bits else str(kind)


def _arrivals_text(a: Any) -> str:
    data = a.model_dump(exclude_none=True) if hasattr(a, "model_dump") else dict(a)
    kind = data.get("kind", "")
    if "rate_per_hour" in data:
        return f"{kind}, {data['rate_per_hour']:g} per hour"
    if "profile" in data:
        return f"{kind}, daily profile ({len(data['profile'])} steps)"
    return ", ".join(f"{k} {v}" for k, v in data.items())


_TABLE_FIGURES = (
    ("arrivals", "n"), ("completed", "n"), ("transfers_requested", "n"), ("transfers_accepted", "n"),
    ("transfer_abandonment_rate", "%"), ("transfer_success_rate", "%"), ("transfer_service_level", "%"),
    ("time_to_join_mean", "s"), ("time_to_join_p90", "s"), ("queue_abandonment_rate", "%"),
    ("abandonment_rate", "%"), ("rejects_per_transfer", "x"), ("offers_per_transfer", "x"),
)


def _fmt_value(v: float, kind: str) -> str:
    if v != v:
        return "-"
    if kind == "%":
        return f"{_pct(v)} %"
    if kind == "s":
        return f"{v:.1f} s"
    if kind == "n":
        return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:.2f}"


def _metric_table(result: Any, scope: str, key: str) -> list[dict[str, str]]:
    table = result.table(scope, key)
    rows = []
    for name, kind in _TABLE_FIGURES:
        if name not in table.index:
            continue
        r = table.loc[name]
        rows.append({"metric": name, "mean": _fmt_value(r["mean"], kind),
                     "ci": f"{_fmt_value(r['ci_low'], kind)} – {_fmt_value(r['ci_high'], kind)}"})
    return rows


def _sweep_table(frame: pd.DataFrame, key: str | None,
                 failures: list[dict[str, Any]] | None = None) -> tuple[list[str], list[list[str]]]:
    """The sweep table: a row per point (the varied values, then three transfer figures for
    ``key``); a failed point's figures read "failed"."""
    from ..charts import _numeric, param_columns

    params = param_columns(frame)
    wanted = ["transfer_abandonment_rate", "transfer_success_rate", "time_to_join_p90"]
    header = params + ([f"{m} ({key})" for m in wanted] if key else ["result"])
    rows = _sweep_rows(frame, key, params, wanted) if key else []
    failed = [f for f in failures or [] if all(p in (f.get("params") or {}) for p in params)]
    if not failed:
        return header, rows
    keyed = [(tuple(r[: len(params)]), r) for r in rows]
    keyed += [(tuple(_value_text(f["params"][p]) for p in params),
               [_value_text(f["params"][p]) for p in params] + [FAILED] * (len(header) - len(params)))
              for f in failed]

    def order(item: tuple[tuple[str, ...], list[str]]) -> tuple[Any, ...]:
        out = []
        for v in item[0]:
            x = float(_numeric(pd.Series([v], dtype=object)).iloc[0])
            out.append((0, x, "") if x == x else (1, 0.0, v))
        return tuple(out)

    return header, [r for _, r in sorted(keyed, key=order)]


def _sweep_rows(frame: pd.DataFrame, key: str, params: list[str], wanted: list[str]) -> list[list[str]]:
    sel = frame[(frame.scope == "target") & (frame.key.astype(str) == key) & (frame.metric.isin(wanted))]
    rows = []
    for values, g in sel.groupby(params, sort=True, observed=True):
        values = values if isinstance(values, tuple) else (values,)
        cells = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
        by = g.set_index("metric")
        for m in wanted:
            if m not in by.index:
                cells.append("-")
                continue
            r = by.loc[m]
            kind = "s" if m.startswith("time") else "%"
            cells.append(f"{_fmt_value(r['mean'], kind)} ({_fmt_value(r['ci_low'], kind)} – {_fmt_value(r['ci_high'], kind)})")
        rows.append(cells)
    return rows


# -- failed sweep points ---------------------------------------------------------------------------

FAILED = "failed"
"""The word a failed point's cells carry, in the heat map, on the line chart and in the table."""


def _same(a: Any, b: Any) -> bool:
    """Whether a sweep value (as stored in the frame) and a failed point's value are the same setting."""
    from ..charts import _numeric

    x, y = (float(_numeric(pd.Series([v], dtype=object)).iloc[0]) for v in (a, b))
    if x == x and y == y:
        return x == y
    return str(a) == str(b)


def _value_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def failures_headline(failures: list[dict[str, Any]], points: int | None) -> str:
    """"2 of 12 points failed: ..." (the first sentence of a report on a sweep with failed points)."""
    n = len(failures)
    total = f"{n} of {points}" if points else f"{n}"
    return (f"{total} point{'s' if (points or n) != 1 else ''} failed: "
            f"{'they are' if n != 1 else 'it is'} marked \u201c{FAILED}\u201d in the charts and tables, "
            "and the reasons are listed under the charts; the figures below leave "
            f"{'them' if n != 1 else 'it'} out.")


def _failed_rows(failures: list[dict[str, Any]], params: list[str]) -> list[dict[str, Any]]:
    """One dict per failed point for the template: ``point``, ``params`` (text), ``error``."""
    out = []
    for f in failures:
        values = f.get("params") or {}
        text = ", ".join(f"{k} = {_value_text(v)}" for k, v in values.items()) or "-"
        out.append({"point": str(f.get("point", "")), "params": text, "error": str(f.get("error", ""))})
    return out


def _in_slice(values: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    return all(k in values and _same(values[k], v) for k, v in held.items())


def _grey_cell(ax: Any, c: float, r: float) -> None:
    import matplotlib.patches

    ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="#7f7f7f",
                                              hatch="///", lw=0.8, zorder=4))
    ax.text(c, r, FAILED, ha="center", va="center", color="#333333", fontsize=9, fontweight="bold", zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "#d9d9d9", "edgecolor": "none"})


def _failed_heatmap(sweep: pd.DataFrame, failures: list[dict[str, Any]], x: str, y: str, *, metric: str,
                    scope: str, key: str, target: float | None, fixed: dict[str, Any] | None) -> Any:
    """:func:`charts.heatmap_chart`, with every failed point of the slice drawn as a grey hatched cell
    reading "failed" (the point has no row in the frame: without this its cell would be blank, or
    its row or column missing)."""
    from .. import charts

    params = charts.param_columns(sweep)
    sel = sweep[(sweep["metric"] == metric) & (sweep["scope"] == scope) & (sweep["key"].astype(str) == str(key))]
    fill = float(sel["mean"].mean()) if len(sel) and sel["mean"].notna().any() else 0.0
    extra = []
    for f in failures:
        values = f.get("params") or {}
        if not all(p in values for p in params):
            continue
        row = {p: values[p] for p in params}
        # a placeholder so the cell exists; it is covered by the grey "failed" cell below
        row.update(scope=scope, key=key, metric=metric, mean=fill, ci_low=math.nan, ci_high=math.nan, n=0)
        extra.append(row)
    frame = sweep
    if extra:
        add = pd.DataFrame(extra)
        for p in params:  # the frame's own column types (text stays text)
            if sweep[p].dtype == object:
                add[p] = add[p].map(lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True))
        frame = pd.concat([sweep, add], ignore_index=True)
    fig = charts.heatmap_chart(frame, x, y, metric=metric, scope=scope, key=key, target=target, fixed=fixed)
    if not extra:
        return fig
    shown, held = charts._hold(charts._select(frame, metric, scope, key), params, [x, y], fixed)
    xs = sorted(set(charts._numeric(shown[x]).dropna()))
    ys = sorted(set(charts._numeric(shown[y]).dropna()))
    ax = fig.axes[0]
    marked = 0
    for f in failures:
        values = f.get("params") or {}
        if x not in values or y not in values or not _in_slice(values, held):
            continue
        vx = float(charts._numeric(pd.Series([values[x]], dtype=object)).iloc[0])
        vy = float(charts._numeric(pd.Series([values[y]], dtype=object)).iloc[0])
        if vx in xs and vy in ys:
            c, r = xs.index(vx), ys.index(vy)
            for t in list(ax.texts):  # the placeholder's number: not a result
                if tuple(t.get_position()) == (c, r):
                    t.remove()
            _grey_cell(ax, c, r)
            marked += 1
    if marked:
        ax.set_title(ax.get_title() + f"\n(grey, hatched: {marked} point{'s' if marked != 1 else ''} failed)")
    return fig


def _failed_line(fig: Any, sweep: pd.DataFrame, failures: list[dict[str, Any]], xpath: str, *, metric: str,
                 scope: str, key: str, fixed: dict[str, Any] | None) -> Any:
    """Mark, on the sweep's line chart, the settings of ``xpath`` whose point failed (a grey dotted
    line and the word "failed")."""
    from .. import charts

    params = charts.param_columns(sweep)
    _, held = charts._hold(charts._select(sweep, metric, scope, key), params, [xpath], fixed)
    ax = fig.axes[0]
    marked = False
    for f in failures:
        values = f.get("params") or {}
        if xpath not in values or not _in_slice(values, held):
            continue
        vx = float(charts._numeric(pd.Series([values[xpath]], dtype=object)).iloc[0])
        if vx != vx:
            continue
        ax.axvline(vx, color="#7f7f7f", ls=(0, (1, 2)), lw=2, zorder=1,
                   label=None if marked else f"{FAILED} (no result)")
        ax.text(vx, 0.5, FAILED, rotation=90, ha="right", va="center", color="#555555", fontsize=9,
                transform=ax.get_xaxis_transform())
        marked = True
    if marked:
        ax.legend(loc="best", frameon=False)
    return fig


def _tune_rows(tune: Any) -> list[tuple[str, str]]:
    if tune is None:
        return []
    if isinstance(tune, pd.DataFrame):
        return [(str(i), ", ".join(f"{k}={v}" for k, v in r.items())) for i, r in tune.iterrows()]
    data = tune if isinstance(tune, Mapping) else getattr(tune, "__dict__", {"result": tune})
    return [(str(k), str(v)) for k, v in data.items() if not str(k).startswith("_")]


def build_report(
    result_or_dir: Any,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    sweep: pd.DataFrame | None = None,
    tune: Any = None,
    target: float | None = None,
    failures: list[dict[str, Any]] | None = None,
    points: int | None = None,
) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and the charts as PNGs beside it; return the
    path of ``index.html``.

    Args:
        result_or_dir: a :class:`~model.results.SimulationResult`, a folder written by
            ``run --out`` or ``sweep --out``, or (with ``sweep``) the swept :class:`Scenario`.
        out_dir: default ``reports/<scenario name>/``.
        sweep: a tidy sweep frame (varied paths, then ``scope, key, metric, mean, ci_low, ci_high, n``).
        tune: the outcome of a tuning (a mapping or a frame), shown as a table.
        target: the target transfer abandonment rate (e.g. ``0.05``): drawn and used to recommend.
        failures: the sweep's failed points (``SweepResult.failures``: dicts with ``point``,
            ``params``, ``error``); default, for a sweep folder, its ``failures.json``. The report
            says "N of M points failed" first, marks each failed point "failed" in the heat map,
            the line chart and the table, and lists the points with their reasons under the charts.
        points: how many points the sweep has (M); default from the folder's ``sweep.json``, else
            the points in ``sweep`` plus the failed ones.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .. import charts

    result: Any = None
    scenario: Any = None
    if isinstance(result_or_dir, (str, os.PathLike)):
        loaded, frame = load_results(result_or_dir)
        if frame is not None:
            scenario, sweep = loaded, frame if sweep is None else sweep
            stored, total = load_failures(result_or_dir)
            failures = stored if failures is None else failures
            points = total if points is None else points
        else:
            result = loaded
    elif hasattr(result_or_dir, "metrics") and hasattr(result_or_dir, "scenario"):
        result = result_or_dir
    else:
        scenario = result_or_dir
    if result is not None:
        scenario = result.scenario
    if result is None and sweep is None:
        raise ReportError("nothing to report: give a result, a results folder, or a scenario with a sweep frame")
    name = getattr(scenario, "name", None) or "report"
    out = Path(out_dir) if out_dir is not None else Path("reports") / str(name)
    out.mkdir(parents=True, exist_ok=True)

    figures: list[dict[str, str]] = []

    def add(slug: str, title: str, caption: str, make: Any) -> None:
        try:
            fig = make()
        except (ValueError, KeyError) as err:
            figures.append({"slug": slug, "title": title, "caption": f"Not drawn: {err}", "src": "", "file": ""})
            return
        path = charts.save_png(fig, out / f"{slug}.png")
        figures.append({"slug": slug, "title": title, "caption": caption, "src": _embed(path), "file": path.name})

    answer: list[str] = []
    sweep_key = None
    failures = [dict(f) for f in failures or []]
    if failures and sweep is not None:
        if points is None:
            params_ = [p for p in charts.param_columns(sweep)]
            have = len(sweep[params_].drop_duplicates()) if params_ and len(sweep) else 0
            points = have + len(failures)
        answer.append(failures_headline(failures, points))
    if sweep is not None and len(sweep):
        # a sweep reports transfers per target; a tuning may explore any one scope and metric
        scope = "target" if (sweep["scope"] == "target").any() else str(sweep["scope"].iloc[0])
        metrics_in = list(dict.fromkeys(sweep["metric"]))
        metric = "transfer_abandonment_rate" if "transfer_abandonment_rate" in metrics_in else metrics_in[0]
        also = "transfer_success_rate" if "transfer_success_rate" in metrics_in else None
        sweep_key = charts._default_key(sweep, scope, metric="transfers_requested")
        if scope == "target":
            answer += sweep_headline(sweep, scenario, target, sweep_key)
        params = charts.param_columns(sweep)
        xpath = _timeout_path(sweep) or params[0]
        fixed = {p: _scenario_value(scenario, p) for p in params if p != xpath} if scenario is not None else None
        if fixed:
            fixed = {p: v for p, v in fixed.items()
                     if v is not None and (charts._numeric(sweep[p]) == float(v)).any()}
        failed_note = " Grey, marked \u201cfailed\u201d: points that failed (listed below)." if failures else ""
        add("sweep", "Transfer outcome across the sweep",
            "Mean over replications with its 95 % confidence band; dashed: the target; dotted: the "
            "smallest setting whose upper bound meets it." + failed_note,
            lambda: _failed_line(charts.sweep_chart(sweep, xpath, metric=metric, also=also, scope=scope,
                                                    key=sweep_key, target=target, fixed=fixed),
                                 sweep, failures, xpath, metric=metric, scope=scope, key=sweep_key, fixed=fixed))
        if len(params) >= 2:
            ypath = [p for p in params if p != xpath][0]
            add("heatmap", "Two settings at once",
                "Transfer abandonment for every pair of settings (mean over replications)." + failed_note,
                lambda: _failed_heatmap(sweep, failures, xpath, ypath, metric=metric, scope=scope, key=sweep_key,
                                        target=target, fixed=None))
    if result is not None:
        answer += headline(result, target)
        if result.transfers is not None:
            add("time_to_join", "How long a transfer takes to be joined",
                "Cumulative share of all transfer requests joined by a given time; the curve levels off at "
                "the share that joins at all, since expired or abandoned transfers never join.",
                lambda: charts.time_to_join_cdf(result))
        add("outcomes", "How contacts and transfers end",
            "Left: every contact by the entry group of its service. Right: every transfer request by "
            "its target group.", lambda: charts.outcomes_chart(result))
        add("timeline", "Over the simulated day",
            "Mean over replications, sampled every few minutes; the grey band is the warm-up, not counted.",
            lambda: charts.timeline_chart(result))
    add("statechart", "The transfer lifecycle",
        "The statechart every simulated contact follows (states and events of LIFECYCLE.md).",
        charts.statechart_chart)

    tables: list[dict[str, Any]] = []
    if result is not None:
        # one table: a row per figure, a column per scope ("all contacts", then each transfer target)
        columns = [("All contacts", _metric_table(result, "overall", "all"))]
        columns += [(f"Transfers to {t}", _metric_table(result, "target", t)) for t in _targets(result)]
        names = [r["metric"] for r in columns[0][1]]
        cells = [{r["metric"]: f"{r['mean']} ({r['ci']})" for r in rows} for _, rows in columns]
        tables.append({
            "title": "Figures, mean (95 % CI)",
            "header": ["figure"] + [c for c, _ in columns],
            "rows": [[n] + [c.get(n, "") for c in cells] for n in names],
        })
        m = result.metrics
        occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")]
        occupancy = [{"group": str(r.key), "mean": f"{_pct(r.mean)} %",
                      "ci": f"{_pct(r.ci_low)} % – {_pct(r.ci_high)} %"} for r in occ.itertuples()]
    else:
        occupancy = []
    if sweep_key or (failures and sweep is not None):
        sweep_header, sweep_rows = _sweep_table(sweep, sweep_key, failures)
    else:
        sweep_header, sweep_rows = [], []
    failed_points = _failed_rows(failures, charts.param_columns(sweep) if sweep is not None else [])
    slugs = [f["slug"] for f in figures]
    failed_after = "heatmap" if "heatmap" in slugs else ("sweep" if "sweep" in slugs else None)

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template(TEMPLATE).render(
        name=name,
        answer=answer,
        scenario=_scenario_rows(scenario) if scenario is not None and hasattr(scenario, "simulation") else None,
        run={"replications": result.replications, "seed": result.seed} if result is not None else None,
        figures=figures,
        tables=tables,
        occupancy=occupancy,
        sweep_header=sweep_header,
        sweep_rows=sweep_rows,
        failed_points=failed_points,
        failed_after=failed_after,
        failed_word=FAILED,
        tune_rows=_tune_rows(tune),
        target=target,
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    index = out / "index.html"
    tmp = index.with_name(".index.html.part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(index)
    return index
