"""Reading a tidy sweep frame: its varied paths, their values as numbers, slices of it, and the
smallest setting that meets a target.

Sweep frames (from :mod:`model.experiments`, and a tuning's explored curve): one column per varied
scenario path (e.g. ``services.support.transfer_timeout``), then ``scope, key, metric, mean,
ci_low, ci_high, n``. The charts and the report read them through these functions only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..results.figures import figure
from ..scenario.durations import parse_duration

__all__ = [
    "SWEEP_COLUMNS",
    "param_columns",
    "numeric",
    "number",
    "param_label",
    "select",
    "default_key",
    "hold",
    "held_text",
    "recommended_setting",
]

#: The columns of a sweep frame after the varied paths.
SWEEP_COLUMNS: tuple[str, ...] = ("scope", "key", "metric", "mean", "ci_low", "ci_high", "n")

#: Labels (with units) of the scenario settings sweeps usually vary; other leaves read as words.
_PARAM_LABELS = {
    "transfer_timeout": "transfer timeout (s)",
    "dissuasion_timeout": "dissuasion timeout (s)",
    "offer_timeout": "offer timeout (s)",
    "agents": "agents",
    "max_concurrent": "chats per agent",
    "reject_probability": "reject probability",
    "probability": "transfer probability",
}


def param_columns(frame: pd.DataFrame) -> list[str]:
    """The varied scenario paths of a sweep frame (every column that is not a summary column)."""
    return [c for c in frame.columns if c not in SWEEP_COLUMNS and c not in ("point", "replications", "seed")]


def _as_number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        if not isinstance(v, str):  # a staffing profile, a list: not one number
            return math.nan
        try:
            return parse_duration(v, allow_zero=True)
        except ValueError:  # neither a number nor a duration: a setting such as "broadcast"
            return math.nan


def numeric(values: pd.Series) -> pd.Series:
    """Sweep values as numbers; durations written as text (``"45s"``) become seconds; other text,
    and values that are not one number (a scenario's staffing profile), NaN."""
    out = pd.to_numeric(values, errors="coerce")
    if out.isna().any() or out.dtype == object:
        out = values.map(_as_number).astype(float)
    return out


def number(value: Any) -> float:
    """One sweep value as a number (see :func:`numeric`)."""
    return float(numeric(pd.Series([value], dtype=object)).iloc[0])


def param_label(path: str) -> str:
    """``services.support.transfer_timeout`` -> ``"support transfer timeout (s)"``."""
    leaf = path.split(".")[-1]
    owner = path.split(".")[-2] if path.count(".") >= 2 else ""
    nice = _PARAM_LABELS.get(leaf, leaf.replace("_", " "))
    return f"{owner} {nice}".strip()


def select(frame: pd.DataFrame, metric: str, scope: str, key: str | None) -> pd.DataFrame:
    """The rows of ``metric`` for ``scope`` (and ``key``); a ``ValueError`` when there are none."""
    sel = frame[(frame["metric"] == metric) & (frame["scope"] == scope)]
    if key is not None:
        sel = sel[sel["key"].astype(str) == str(key)]
    if sel.empty:
        raise ValueError(f"the sweep frame has no {metric!r} for scope {scope!r}" + (f" key {key!r}" if key else ""))
    return sel


def default_key(frame: pd.DataFrame, scope: str, metric: str = "transfers_requested") -> str:
    """The key of ``scope`` with the most transfers (or the first one)."""
    sel = frame[(frame["scope"] == scope) & (frame["metric"] == metric)]
    if sel.empty:
        sel = frame[frame["scope"] == scope]
        if sel.empty:
            raise ValueError(f"the sweep frame has no rows of scope {scope!r}")
        return str(sel["key"].iloc[0])
    return str(sel.groupby("key", observed=True)["mean"].mean().idxmax())


def hold(sel: pd.DataFrame, params: Sequence[str], free: Sequence[str],
         fixed: Mapping[str, Any] | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the rows where every varied path not in ``free`` is at its ``fixed`` value (default: its
    first value); returns the rows and the values held."""
    held: dict[str, Any] = {}
    for other in params:
        if other in free:
            continue
        value = (fixed or {}).get(other, sel[other].iloc[0])
        v = number(value)
        sel = sel[numeric(sel[other]) == v] if v == v else sel[sel[other] == value]
        held[other] = value
    if sel.empty:
        raise ValueError(f"no sweep rows with {held}")
    return sel, held


def held_text(held: Mapping[str, Any]) -> str:
    """``"billing agents = 3, ..."``: the values other varied paths are held at."""
    return ", ".join(f"{param_label(k).split(' (')[0]} = {v:g}" if isinstance(v, (int, float)) else
                     f"{param_label(k).split(' (')[0]} = {v}" for k, v in held.items())


def recommended_setting(
    frame: pd.DataFrame,
    param: str | None = None,
    *,
    target: float,
    metric: str = "transfer_abandonment_rate",
    scope: str = "target",
    key: str | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> Any:
    """The smallest value of ``param`` that meets ``target`` with 95 % confidence (``None`` when no
    value does): its upper bound at or below ``target`` when lower ``metric`` is better, its lower
    bound at or above it when higher is better (the metric's record in :mod:`model.results.figures`).
    Other varied paths are held at ``fixed`` (default: their first value)."""
    params = param_columns(frame)
    param = param or params[0]
    key = key or default_key(frame, scope)
    sel, _ = hold(select(frame, metric, scope, key), params, [param], fixed)
    sel = sel.assign(_x=numeric(sel[param])).sort_values("_x")
    if figure(metric).better == "higher":
        ok = sel[sel["ci_low"] >= target]
    else:
        ok = sel[sel["ci_high"].clip(lower=0) <= target]
    return None if ok.empty else ok[param].iloc[0]
