"""The calibrated scenario's text: each section written from the calibration's frames and fits.

Why apart from :mod:`.scenario`: what is estimated and how it is written (the comments, the
rounding, what is left out and said so) change for different reasons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from .staffing import IDLE_GAP
from .types import type_key
from .writer import Writer, toml_value

if TYPE_CHECKING:
    from .scenario import Calibration

__all__ = ["write_scenario"]


def _arrival_entries(rows: pd.DataFrame) -> list[tuple[str, float, str]]:
    out = []
    for r in rows.itertuples(index=False):
        if r.days == 0:
            out.append((r.start, 0.0, "not covered by the log: 0 written"))
        else:
            out.append((r.start, round(float(r.rate_per_hour), 3),
                        f"{r.contacts} contacts over {r.days} day(s); 95 % {r.low:.1f}-{r.high:.1f} per hour"))
    return out


def _staff_entries(rows: pd.DataFrame) -> list[tuple[str, int, str]]:
    out = []
    for r in rows.itertuples(index=False):
        if r.days == 0:
            out.append((r.start, 0, "not covered by the log"))
            continue
        unnamed = f", unnamed legs {r.unnamed_agents:.2f}" if r.unnamed_agents > 0 else ""
        out.append((r.start, int(r.written), f"present {r.present_agents:.2f}{unnamed}; busy {r.busy_agents:.2f}, "
                    f"seen {r.seen_agents:.2f}"))
    return out


def write_scenario(cal: Calibration, *, name: str | None, entry: dict[str, str], concurrent: dict[str, int],
                   timeouts: dict[str, tuple[float, str]], named: set[str]) -> str:
    """The commented TOML of ``cal`` (its ``scenario`` is parsed back from this text)."""
    w = Writer()
    log = cal.log
    step = cal.interval
    length = f"{step / 3600:g}h" if step % 3600 == 0 else f"{step / 60:g}m"
    w.comment(f"Calibrated by transfer-sim calibrate from {log.source or 'a log in memory'}"
              + (f" ({name})" if name else ""),
              f"{len(log.contacts):,} contacts over {log.days} day(s); transfers: "
              + (f"{len(log.transfers):,} rows" if log.transfers is not None else "no table")
              + f"; profiles in {length} intervals of the clock, averaged over the days covering each.",
              "Estimators and their bias: docs/calibrate.md. Staffing comes from agent activity only.")
    for line in log.cleaning.text():
        w.comment(f"cleaning: {line}")
    for note in cal.notes:
        w.comment(f"note: {note}")
    w.blank()
    w.header("simulation", array=False)
    w.comment("one clock day per replication, as the log's days")
    w.key("horizon", "24h")
    w.key("warmup", 0)
    w.key("replications", 10)
    w.key("seed", 0)
    w.key("start", "00:00")
    for service in sorted(entry):
        w.blank()
        w.header("services")
        w.key("name", service)
        w.key("entry_group", entry[service], "the group most of its contacts queued for or were answered in")
        if service in timeouts:
            w.key("transfer_timeout", timeouts[service][0], timeouts[service][1])
        if service in cal.priorities:
            w.key("priority", *cal.priorities[service])
        rows = cal.arrivals[cal.arrivals["service"] == service]
        w.comment(f"arrivals: Poisson, contacts per hour in each {length} interval, averaged over the days covering "
                  f"it ({int(rows['contacts'].sum()):,} contacts)")
        w.lines.append('arrivals = { kind = "poisson", profile = [')
        for clock, value, note in _arrival_entries(rows):
            w.lines.append(f'  ["{clock}", {value!r}],  # {note}')
        w.lines.append("] }")
        for what in ("patience", "transfer_patience"):
            key = f"{what} {service}"
            fit = cal.fits.get(key)
            if fit is None:
                continue
            km = cal.km.get(key)
            km_note = ""
            if km is not None:
                median = "not reached" if not math.isfinite(km.median) else f"{km.median:.1f} s"
                km_note = (f"Kaplan-Meier (lifelines) over {km.n} observations, {km.events} complete, the rest "
                           f"censored (served, or joined): median {median}; the complete ones alone average "
                           f"{km.naive_mean:.1f} s (biased low)")
            if fit.written is None:
                w.comment(f"{what}: {fit.note}", km_note)
                continue
            w.comment(km_note)
            w.distribution(what, fit.written, f"censored {fit.note}")
    for g in sorted(cal.staffing["group"].unique()):
        w.blank()
        w.header("groups")
        w.key("name", g)
        rows = cal.staffing[cal.staffing["group"] == g]
        w.comment(f"agents: time-average number of agents present (holding a chat, or idle at most "
                  f"{IDLE_GAP / 60:g} min between two chats), rounded, at least 1 where there was any activity; "
                  "'busy' (holding a chat) and 'seen' (distinct agents with a chat) for comparison, not used")
        if named:
            w.comment(f"named agents {', '.join(sorted(named))} are written as [[agents]] and left out of this count")
        entries = _staff_entries(rows)
        if not any(v for _, v, _ in entries):
            entries = [(c, 1 if i == 0 else 0, n) for i, (c, _, n) in enumerate(entries)]
            w.comment("no activity measured: one agent at 00:00 so that the group exists")
        w.profile("agents", entries)
        if g in concurrent:
            w.key("max_concurrent", concurrent[g], "the most chats one of its agents held at once in the log")
        else:
            w.key("max_concurrent", 1, "no agent named in its legs: 1 assumed")
        fit = cal.fits[f"handle_time {g}"]
        w.distribution("handle_time", fit.written, f"legs answered/joined -> transfer requested/ended; {fit.note}")
        for service in cal.by_type.get(g, []):
            mine = cal.fits[type_key(g, service)]
            w.distribution(f"handle_time_by_service.{_bare(service)}", mine.written,
                           f"the legs of {service} contacts in {g}; {mine.note}")
        mine = cal.transfers[cal.transfers["group"] == g]
        rules = []
        for r in mine.itertuples(index=False):
            target = r.target
            if not target.startswith("agent:") and target not in set(cal.staffing["group"]):
                cal.notes.append(f"transfers from {g} to {target} ({r.requests}) were never joined: left out")
                continue
            rules.append(({"to": target, "probability": round(float(r.probability), 5)},
                          f"{r.requests} of {r.legs} legs; standard error {r.se:.4f}"))
        if rules:
            w.comment("transfers: share of the group's legs that ended in a request to each target "
                      "(accept_delay is not written: the log's time to join includes waiting for a free agent)")
            w.rules("transfers", rules)
    ag = _agent_groups(cal)
    for agent in sorted(named):
        if agent not in ag:
            continue
        w.blank()
        w.header("agents")
        w.key("name", agent)
        w.key("groups", [ag[agent]], "the group it answered most contacts in")
        w.key("max_concurrent", _agent_max(cal, agent), "the most chats it held at once in the log")
        w.comment("no shifts written: on shift all day (the log does not say when it was signed in)")
    return str(w)


def _bare(key: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return key if key and key.isascii() and all(ch.isalnum() or ch in "_-" for ch in key) else toml_value(key)


def _agent_groups(cal: Calibration) -> dict[str, str]:
    from .legs import agent_groups

    return agent_groups(cal.log.contacts)


def _agent_max(cal: Calibration, agent: str) -> int:
    from .staffing import max_concurrent

    legs = cal.legs[cal.legs["agent"] == agent]
    return max(max_concurrent(legs.assign(group="x")).values(), default=1)
