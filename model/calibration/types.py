"""Calibration per contact type: each service's priority, and a group's handle time per service.

Why: a day mixes contact types with very different fates in one pool of agents (issue 18). Arrival
profiles and patience are already per service (the log's ``service`` column); what the types add is
that they may be served in another order (the log's optional ``priority`` column: each service gets
its contacts' most common priority) and take another time to handle (``handle_time_by_service``
on each group whose legs come from several services). Staffing and transfer probabilities stay per
group, as calibrated without types.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fits import Fit, fit_durations

__all__ = ["MIN_TYPE_LEGS", "type_key", "priorities", "handle_time_by_type"]

MIN_TYPE_LEGS = 20
"""Complete legs a service needs in a group for a handle time of its own there; with fewer its
contacts take the group's pooled handle time (noted)."""


def type_key(group: str, service: str) -> str:
    """The key of a group's handle time for one service in :attr:`Calibration.fits`:
    ``"handle_time front [vip]"`` (``[`` and ``]`` cannot be in names)."""
    return f"handle_time {group} [{service}]"


def priorities(contacts: pd.DataFrame, services: list[str]) -> tuple[dict[str, tuple[int, str]], list[str]]:
    """Each service's priority (its contacts' most common; a tie goes to the higher) with a comment,
    and notes on disagreements: contacts of a type logged with other priorities, or none at all.
    ``({}, [])`` when the log has no priority column."""
    if "priority" not in contacts.columns:
        return {}, []
    out: dict[str, tuple[int, str]] = {}
    notes: list[str] = []
    for service in services:
        p = contacts.loc[contacts["service"].astype(str) == service, "priority"].dropna().astype(int)
        if p.empty:
            notes.append(f"service {service}: no contact with a priority in the log; priority left at the default 0")
            continue
        counts = p.value_counts()
        top = int(max(counts.index[counts == counts.max()]))
        share = counts[top] / len(p)
        if share < 1:
            others = ", ".join(f"{int(v)} ({n})" for v, n in counts.drop(top).sort_index().items())
            notes.append(f"service {service}: {len(p) - counts[top]} of {len(p)} contacts logged with another "
                         f"priority than its most common, {top}: {others}; {top} written")
        out[service] = (top, f"the most common priority of its {len(p):,} contacts ({100 * share:.1f} %)")
    return out, notes


def handle_time_by_type(legs: pd.DataFrame, groups: list[str]) -> tuple[dict[str, dict[str, Fit]], list[str]]:
    """Per group whose complete legs come from several services: a fit per service with at least
    :data:`MIN_TYPE_LEGS` of them (keys :func:`type_key`; none when fewer than two services have that
    many), and notes on services left to the pooled fit."""
    out: dict[str, dict[str, Fit]] = {}
    notes: list[str] = []
    done = legs[legs["end"].notna()]
    for g in groups:
        mine = done[done["group"] == g]
        if mine["service"].nunique() < 2:
            continue
        fits: dict[str, Fit] = {}
        for service, sub in mine.groupby("service", sort=True):
            d = (sub["end"] - sub["start"]).to_numpy(float)
            d = d[np.isfinite(d)]
            if (d > 0).sum() < MIN_TYPE_LEGS:
                notes.append(f"group {g}: {int((d > 0).sum())} complete leg(s) of {service}, fewer than "
                             f"{MIN_TYPE_LEGS}: its contacts take the group's pooled handle time")
                continue
            fits[str(service)] = fit_durations(type_key(g, str(service)), d, allow_empirical=True)
        if len(fits) > 1:  # one type alone is the pooled fit, near enough
            out[g] = fits
    return out, notes
