"""How transfer requests end, as shares that add up to 100 %: joined, returned to the sender,
timer expired, customer left.

Why derived here rather than counted again: the engine counts every ending already, and each
replication's shares follow from figures every result carries (``transfer_success_rate``,
``transfer_abandonment_rate`` and the counts ``transfer_expired`` and ``abandoned_transfer``):
returned = 1 - joined - abandoned (LIFECYCLE.md: with policy ``return`` a transfer whose timer
fires goes back to its sender), timer expired = abandoned x expired / (expired + left). Results
read back from older folders get the split too, and the engine's pinned records do not change.
The mean and 95 % interval of each share are taken over replications, as every other figure.
"""

from __future__ import annotations

import math

import pandas as pd

from .figures import FigureInfo
from .metrics import confidence_interval

__all__ = ["OUTCOMES", "OUTCOME_FIGURES", "transfer_outcomes"]

_OF = "transfer requests"

OUTCOME_FIGURES: dict[str, FigureInfo] = {
    f.name: f for f in (
        FigureInfo("transfer_joined_share", "%", "successful (joined)",
                   "Share of transfer requests that a receiving agent accepted.", "higher", _OF, "#009E73"),
        FigureInfo("transfer_returned_share", "%", "returned to sender",
                   "Share of transfer requests whose timer ran out and, by the service's return policy, went "
                   "back to the agent who asked.", None, _OF, "#56B4E9"),
        FigureInfo("transfer_expired_share", "%", "timer expired",
                   "Share of transfer requests whose transfer timeout ran out before any agent joined "
                   "(the contact is lost).", "lower", _OF, "#D55E00"),
        FigureInfo("transfer_left_share", "%", "customer left",
                   "Share of transfer requests whose customer left while waiting for an agent to join.",
                   "lower", _OF, "#CC79A7"),
    )
}
"""The four endings of a transfer request, each shown like a figure of :mod:`.figures`."""

OUTCOMES: tuple[str, ...] = tuple(OUTCOME_FIGURES)
"""The endings, in the order they are listed: joined, returned, timer expired, customer left."""


def _shares(values: dict[str, float]) -> dict[str, float]:
    joined = values.get("transfer_success_rate", math.nan)
    lost = values.get("transfer_abandonment_rate", math.nan)
    if joined != joined or lost != lost:  # no transfer ended in this replication
        return dict.fromkeys(OUTCOMES, math.nan)
    expired, left = values.get("transfer_expired", 0.0), values.get("abandoned_transfer", 0.0)
    part = lost * expired / (expired + left) if expired + left > 0 else 0.0
    return {"transfer_joined_share": joined, "transfer_returned_share": max(0.0, 1.0 - joined - lost),
            "transfer_expired_share": part, "transfer_left_share": max(0.0, lost - part)}


def transfer_outcomes(per_replication: pd.DataFrame, kind: str = "overall",
                      key: str = "all") -> dict[str, tuple[float, float, float]]:
    """``{ending: (mean, ci_low, ci_high)}`` over replications for one scope (``overall``,
    ``service``, ``target``), from a result's ``per_replication`` frame; NaN when no transfer ended."""
    pr = per_replication
    sel = pr[(pr["scope"].astype(str) == kind) & (pr["key"].astype(str) == str(key))]
    per_rep = [_shares(dict(zip(g["metric"], g["value"].astype(float))))
               for _, g in sel.groupby("replication", sort=True)]
    out: dict[str, tuple[float, float, float]] = {}
    for name in OUTCOMES:
        mean, lo, hi, _ = confidence_interval([s[name] for s in per_rep])
        out[name] = (mean, max(lo, 0.0), min(hi, 1.0)) if mean == mean else (mean, lo, hi)
    return out
