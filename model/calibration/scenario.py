"""``calibrate(log)``: a scenario read off a contact log, with its fits and diagnostics.

Why: a "what if" is only as good as the scenario it starts from. This module turns a clean log
(:mod:`model.logs`) into the scenario's numbers -- arrival profile, handle times, patience (Kaplan-
Meier with the served waits censored, then a censored parametric fit), staffing from agent
activity, transfer probabilities -- and writes them as commented TOML (:mod:`.writer`) that says
where each number came from. The estimators and their bias are in docs/calibrate.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..logs import ContactLog, LogError, clean_log
from ..scenario import Scenario, ScenarioError, scenario_from_dict
from ..sim.intervals import interval_seconds
from .arrivals import arrival_rates
from .fits import Fit, fit_durations
from .legs import entry_groups, legs_of, make_grid
from .staffing import max_concurrent, staffing
from .types import handle_time_by_type, priorities

__all__ = ["CalibrationError", "KaplanMeier", "Calibration", "calibrate", "DEFAULT_TRANSFER_TIMEOUT"]

DEFAULT_TRANSFER_TIMEOUT = 60.0
"""Seconds written as ``transfer_timeout`` when no transfer expired in the log (the format's default)."""


class CalibrationError(LogError):
    """A log from which no scenario can be calibrated (no contacts, nothing served, names the
    scenario format refuses); the message says what is missing."""


@dataclass
class KaplanMeier:
    """A Kaplan-Meier survival curve (lifelines) with its 95 % band, and the naive figure it replaces."""

    quantity: str
    n: int
    events: int
    timeline: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    median: float  # inf when the curve never falls to 0.5
    naive_mean: float  # the mean of the complete observations alone (the abandoners' waits)


@dataclass
class Calibration:
    """What :func:`calibrate` found: the validated ``scenario`` and its commented ``toml()`` text,
    the ``fits`` by quantity (``"handle_time GROUP"``, ``"handle_time GROUP [SERVICE]"`` for a group
    whose legs come from several services, ``"patience SERVICE"``, ``"transfer_patience SERVICE"``),
    the Kaplan-Meier curves ``km`` (same keys), the ``arrivals``, ``staffing`` and ``transfers``
    frames, ``notes`` on what was assumed or left out, each service's ``priorities`` (``(priority,
    comment)``, from the log's optional priority column) and ``by_type`` (group -> the services with
    a handle time of their own there)."""

    scenario: Scenario
    text: str
    fits: dict[str, Fit]
    km: dict[str, KaplanMeier]
    arrivals: pd.DataFrame
    staffing: pd.DataFrame
    transfers: pd.DataFrame
    notes: list[str]
    log: ContactLog
    interval: float
    legs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    priorities: dict[str, tuple[int, str]] = field(default_factory=dict)
    by_type: dict[str, list[str]] = field(default_factory=dict)  # group -> services with a handle time of their own

    def toml(self) -> str:
        """The scenario as commented TOML (what ``transfer-sim calibrate --out`` writes)."""
        return self.text


def kaplan_meier(quantity: str, durations: np.ndarray, observed: np.ndarray) -> KaplanMeier:
    """The Kaplan-Meier estimate (lifelines' ``KaplanMeierFitter``) of ``durations`` with events ``observed``."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(durations, event_observed=observed)
    sf = km.survival_function_.iloc[:, 0]
    ci = km.confidence_interval_
    naive = float(np.mean(durations[observed])) if observed.any() else math.nan
    return KaplanMeier(quantity, len(durations), int(observed.sum()), sf.index.to_numpy(float), sf.to_numpy(float),
                       ci.iloc[:, 0].to_numpy(float), ci.iloc[:, 1].to_numpy(float), float(km.median_survival_time_),
                       naive)


def _as_log(log: ContactLog | pd.DataFrame) -> ContactLog:
    if isinstance(log, ContactLog):
        return log
    if isinstance(log, pd.DataFrame):
        return clean_log(log)
    raise TypeError(f"calibrate takes a ContactLog or a pandas DataFrame; got {type(log).__name__}")


def _transfer_table(legs: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Per group and target: legs handled in the group, transfers requested to the target, the share."""
    done = legs[legs["end"].notna() | legs["target"].notna()]
    rows = []
    for g in groups:
        mine = done[done["group"] == g]
        n = len(mine)
        for target, k in mine["target"].dropna().value_counts().sort_index().items():
            p = k / n
            rows.append((g, str(target), n, int(k), p, math.sqrt(p * (1 - p) / n)))
    return pd.DataFrame(rows, columns=["group", "target", "legs", "requests", "probability", "se"])


def _transfer_durations(log: ContactLog, service: str, timeout: float) -> tuple[np.ndarray, np.ndarray]:
    """Time from each transfer request to the customer leaving (event) or to joined / the timeout (censored)."""
    tr = log.transfers
    c = log.contacts.set_index("contact_id")
    t = tr[tr["contact_id"].map(c["service"]).astype(str) == service]
    ended = t["contact_id"].map(c["ended"]).to_numpy(float)
    req = t["requested"].to_numpy(float)
    out = t["outcome"].astype(str).to_numpy()
    dur = np.where(out == "accepted", t["joined"].to_numpy(float) - req,
                   np.where(out == "expired", np.fmin(ended - req, timeout), ended - req))
    ok = np.isfinite(dur) & (dur >= 0)
    return dur[ok], (out == "customer_left")[ok]


def _timeout(log: ContactLog, service: str, given: float | None) -> tuple[float, str]:
    if given is not None:
        return float(given), "given by the caller (--transfer-timeout)"
    tr = log.transfers
    c = log.contacts.set_index("contact_id")
    t = tr[(tr["outcome"].astype(str) == "expired") & (tr["contact_id"].map(c["service"]).astype(str) == service)]
    d = (t["contact_id"].map(c["ended"]).to_numpy(float) - t["requested"].to_numpy(float))
    d = d[np.isfinite(d) & (d >= 0)]
    if not len(d):
        return DEFAULT_TRANSFER_TIMEOUT, (f"no transfer of this service expired in the log: the default "
                                          f"{DEFAULT_TRANSFER_TIMEOUT:g} s (give --transfer-timeout to set it)")
    value = float(round(float(np.median(d))))
    return value, (f"median time from request to expiry of {len(d)} expired transfers "
                   f"(range {d.min():.1f}-{d.max():.1f} s)")


def calibrate(log: ContactLog | pd.DataFrame, interval: str | float = "1h", *, name: str | None = None,
              transfer_timeout: float | None = None) -> Calibration:
    """Calibrate a scenario from a contact log (a :class:`~model.logs.ContactLog`, or a raw frame in
    the log format, cleaned first) with profiles in steps of ``interval`` (``"1h"``, ``"30m"``, ...).

    Raises :class:`CalibrationError` when the log cannot give a scenario (no contacts, nothing
    served, an interval that does not divide the day).
    """
    from .build import write_scenario

    log = _as_log(log)
    where = log.source or "log"
    c = log.contacts
    if c.empty:
        raise CalibrationError(f"{where}: no contacts left after cleaning; nothing to calibrate")
    try:
        step = interval_seconds(interval)
    except ValueError as err:
        raise CalibrationError(f"interval: {err}") from None
    if not c["served"].any():
        raise CalibrationError(f"{where}: no contact was answered, so there is no handle time to fit and no agent "
                               "activity to staff from; a scenario needs both")
    notes: list[str] = []
    grid = make_grid(c, step)
    arrivals = arrival_rates(c, grid)
    legs, more = legs_of(log)
    notes += more
    entry = entry_groups(c)
    groups = sorted(set(legs["group"].astype(str)) | set(entry.values()))
    fits: dict[str, Fit] = {}
    pooled = (legs["end"] - legs["start"]).to_numpy(float)
    for g in groups:
        mine = legs[legs["group"] == g]
        d = (mine["end"] - mine["start"]).to_numpy(float)
        fit = fit_durations(f"handle_time {g}", d[np.isfinite(d)], allow_empirical=True)
        if fit.chosen is None:
            fit = fit_durations(f"handle_time {g}", pooled[np.isfinite(pooled)], allow_empirical=True)
            fit.note = f"no complete leg in {g}: the pooled handle time of all groups; {fit.note}"
            notes.append(f"group {g}: no conversation of its own completed in the log; its handle time is pooled")
        fits[f"handle_time {g}"] = fit
    per_type, more = handle_time_by_type(legs, groups)
    notes += more
    for by in per_type.values():
        fits.update({f.quantity: f for f in by.values()})
    levels, more = priorities(c, sorted(entry))
    notes += more
    concurrent = max_concurrent(legs)
    transfers = _transfer_table(legs, groups)
    named = {t[len("agent:"):] for t in transfers["target"] if t.startswith("agent:")}
    staff = staffing(legs, grid, groups, concurrent, exclude=frozenset(named))
    km: dict[str, KaplanMeier] = {}
    timeouts: dict[str, tuple[float, str]] = {}
    for service in sorted(entry):
        rows = c[c["service"] == service]
        waits = rows["wait"].to_numpy(float)
        left = ~rows["served"].to_numpy(bool)
        ok = np.isfinite(waits) & (waits >= 0)
        key = f"patience {service}"
        km[key] = kaplan_meier(key, waits[ok], left[ok])
        fits[key] = fit_durations(key, waits[ok], left[ok])
        if fits[key].chosen is None:
            fits[key].note = (f"no contact of {service} left the queue ({int(ok.sum())} waits, all censored by an "
                              "answer): patience cannot be fitted and is left out (infinitely patient)")
        if log.transfers is not None and len(log.transfers):
            timeouts[service] = _timeout(log, service, transfer_timeout)
            dur, ev = _transfer_durations(log, service, timeouts[service][0])
            if len(dur):
                key = f"transfer_patience {service}"
                km[key] = kaplan_meier(key, dur, ev)
                fits[key] = fit_durations(key, dur, ev)
                if fits[key].chosen is None:
                    fits[key].note = (f"no customer of {service} left during a transfer ({len(dur)} transfers): "
                                      "transfer patience cannot be fitted and is left out")
        elif transfer_timeout is not None:
            timeouts[service] = (float(transfer_timeout), "given by the caller (--transfer-timeout)")
    cal = Calibration(None, "", fits, km, arrivals, staff, transfers, notes, log, step, legs,  # type: ignore[arg-type]
                      levels, {g: sorted(by) for g, by in per_type.items()})
    text = write_scenario(cal, name=name, entry=entry, concurrent=concurrent, timeouts=timeouts, named=named)
    try:
        cal.scenario = scenario_from_dict(tomllib.loads(text), name=name or "calibrated")
    except ScenarioError as err:
        raise CalibrationError(f"{where}: the calibrated scenario is not valid: {err}") from None
    cal.text = text
    return cal

