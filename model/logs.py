"""Contact logs: what happened in a real centre (or in a simulation), one row per contact.

Why: calibration reads the numbers of a scenario off a log, and a backtest compares a simulation
with the log it came from. Both need one clean, documented frame, whatever the source wrote
(docs/logs.md). Real logs are messy; :func:`read_log` fixes what can be fixed, drops what cannot,
and counts both (:attr:`ContactLog.cleaning`), so a reader knows what the figures rest on.

The clean frame (:attr:`ContactLog.contacts`), one row per contact, times in seconds after
midnight of the log's first day:

=============  ==========================================================================
``contact_id`` text, unique
``service``    text (``"chat"`` when the log has no service column)
``group``      text or missing: the group that answered (or that the contact queued for)
``agent``      text or missing: who answered
``arrived``    when the contact entered the queue
``answered``   when an agent took it; NaN if never (it left the queue)
``ended``      when the conversation ended, or when the customer left the queue
``day``        the day of ``arrived`` (0 = the log's first day)
``clock``      ``arrived`` as seconds after that day's midnight
``wait``       time in the queue: ``answered - arrived``, or ``ended - arrived`` if never answered
``served``     whether an agent answered
``priority``   only when the log has that column: the contact's priority (an integer, higher
               served first; missing where the row has none)
=============  ==========================================================================

Transfers (optional, :attr:`ContactLog.transfers`): ``contact_id, requested, joined, target,
outcome`` with ``outcome`` one of :data:`TRANSFER_OUTCOMES`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import TransferSimError

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = [
    "LOG_COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "TRANSFER_COLUMNS", "TRANSFER_OUTCOMES", "CLOCK_SKEW", "DAY",
    "LogError", "Cleaning", "ContactLog", "read_log", "clean_log", "parse_columns", "contacts_log",
]

DAY = 86400.0
REQUIRED_COLUMNS: tuple[str, ...] = ("arrived", "answered", "ended")
LOG_COLUMNS: tuple[str, ...] = ("contact_id", "service", "group", "agent", "arrived", "answered", "ended")
"""The columns of the contact-log format, in the order :func:`contacts_log` writes them."""
OPTIONAL_COLUMNS: tuple[str, ...] = ("priority",)
"""Columns read when present and written by :func:`contacts_log` only when they say something (a
scenario whose services differ in priority)."""
TRANSFER_COLUMNS: tuple[str, ...] = ("contact_id", "requested", "joined", "target", "outcome", "agent")
"""The transfers table's columns; ``joined`` and ``agent`` (who joined) are optional."""
TRANSFER_OUTCOMES: tuple[str, ...] = ("accepted", "expired", "customer_left")
CLOCK_SKEW = 2.0
"""Seconds by which a time may run backwards (clocks of two systems) and be set right instead of dropped."""


class LogError(TransferSimError, ValueError):
    """A contact log that cannot be read at all (a missing column, unreadable times); the message
    names the file, the column and what is allowed."""


@dataclass
class Cleaning:
    """What reading a log fixed and dropped: ``(what, rows, action)`` lines, in the order found."""

    rows_read: int = 0
    lines: list[tuple[str, int, str]] = field(default_factory=list)

    def note(self, what: str, rows: int, action: str) -> None:
        """Record ``rows`` rows with problem ``what``, handled by ``action`` (only when rows > 0)."""
        if rows:
            self.lines.append((what, int(rows), action))

    @property
    def dropped(self) -> int:
        """Rows dropped in all."""
        return sum(n for _, n, action in self.lines if action.startswith("dropped"))

    def text(self) -> list[str]:
        """One readable line per problem, for the CLI and the calibration's comments."""
        return [f"{n:,} row(s): {what}; {action}" for what, n, action in self.lines]


@dataclass
class ContactLog:
    """A clean contact log (see the module docstring) and what cleaning it did."""

    contacts: pd.DataFrame
    transfers: pd.DataFrame | None
    cleaning: Cleaning
    source: str | None = None
    start: pd.Timestamp | None = None  # midnight of the first day, for logs with timestamps

    @property
    def days(self) -> int:
        """How many days the log spans (from its first day's midnight)."""
        if self.contacts.empty:
            return 0
        return int(self.contacts["day"].max()) + 1


def parse_columns(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"arrived=q_start,answered=ser_start"`` (or a mapping): format column -> the log's column.

    Raises :class:`LogError` naming the unknown format column and the allowed ones.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        pairs = []
        for part in spec.split(","):
            if not part.strip():
                continue
            name, sep, theirs = part.partition("=")
            if not sep or not name.strip() or not theirs.strip():
                raise LogError(f"--columns: {part.strip()!r} is not NAME=COLUMN; e.g. arrived=q_start,answered=ser_start")
            pairs.append((name.strip(), theirs.strip()))
    allowed = (*LOG_COLUMNS, *OPTIONAL_COLUMNS, *(c for c in TRANSFER_COLUMNS if c not in LOG_COLUMNS))
    for name, _ in pairs:
        if name not in allowed:
            raise LogError(f"--columns: unknown column {name!r}; allowed: {', '.join(allowed)}")
    return dict(pairs)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise LogError(f"{path}: no such file")
    if path.is_dir():
        raise LogError(f"{path}: is a folder; give a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=True)
    except Exception as err:  # broad: pandas and pyarrow raise many kinds for a file that is not what it says
        raise LogError(f"{path}: cannot be read as {suffix[1:]}: {err}") from None
    raise LogError(f"{path}: unknown file type {suffix or '(none)'}; allowed: .csv, .tsv, .parquet, .pq")


def _times(raw: pd.DataFrame, columns: tuple[str, ...], where: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The time columns as float seconds after midnight of the first day (seconds, or timestamps)."""
    values = {c: raw[c] for c in columns if c in raw}
    numeric = {c: pd.to_numeric(v, errors="coerce") for c, v in values.items()}
    # numbers when (nearly) every filled cell is one; an empty log reads as numbers too
    as_numbers = all(bool(v.notna().sum() >= int(0.9 * values[c].notna().sum())) for c, v in numeric.items())
    if as_numbers:
        return pd.DataFrame(numeric, index=raw.index).astype(float), None
    stamps = {}
    for c, v in values.items():
        parsed = pd.to_datetime(v, errors="coerce", utc=False, format="ISO8601")
        if parsed.notna().sum() == 0 and v.notna().sum() > 0:
            raise LogError(f"{where}: column {c!r} holds neither seconds nor ISO timestamps "
                           f"(e.g. {v.dropna().iloc[0]!r}); allowed: numbers of seconds, or '2024-03-01 08:15:02'")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert(None)
        stamps[c] = parsed
    first = min(s.min() for s in stamps.values() if s.notna().any())
    start = first.normalize()
    out = pd.DataFrame({c: (s - start).dt.total_seconds() for c, s in stamps.items()}, index=raw.index)
    return out.astype(float), start


def clean_log(raw: pd.DataFrame, *, columns: Mapping[str, str] | None = None, transfers: pd.DataFrame | None = None,
              source: str | None = None) -> ContactLog:
    """Clean a contact log already in memory (see :func:`read_log` for the rules)."""
    where = source or "log"
    cleaning = Cleaning(rows_read=len(raw))
    raw = raw.rename(columns={v: k for k, v in (columns or {}).items()})
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise LogError(f"{where}: missing column(s) {', '.join(missing)}; the log has {', '.join(map(str, raw.columns))}; "
                       "map other names with --columns arrived=...,answered=...,ended=...")
    times, start = _times(raw, REQUIRED_COLUMNS, where)
    df = pd.DataFrame(index=raw.index)
    df["contact_id"] = raw["contact_id"].astype(str) if "contact_id" in raw else [f"c{i}" for i in range(len(raw))]
    df["service"] = raw["service"].astype("string").fillna("chat") if "service" in raw else "chat"
    for c in ("group", "agent"):
        df[c] = raw[c].astype("string").str.strip().replace("", pd.NA) if c in raw else pd.Series(pd.NA, index=raw.index, dtype="string")
    for c in REQUIRED_COLUMNS:
        df[c] = times[c]
    if "priority" in raw:
        df["priority"] = _priorities(raw["priority"], cleaning, where)

    bad_arrived = df["arrived"].isna() | ~np.isfinite(df["arrived"].fillna(0.0))
    cleaning.note("no arrival time", bad_arrived.sum(), "dropped")
    df = df[~bad_arrived]
    no_end = df["ended"].isna() & df["answered"].isna()
    cleaning.note("neither answered nor ended (a phantom row)", no_end.sum(), "dropped")
    df = df[~no_end]
    dup = df["contact_id"].duplicated(keep="first")
    cleaning.note("a contact_id seen before", dup.sum(), "dropped (the first row kept)")
    df = df[~dup]

    # answered a moment before arriving (two systems' clocks): set right; more than that: dropped
    early = df["answered"] < df["arrived"]
    skew = early & (df["arrived"] - df["answered"] <= CLOCK_SKEW)
    cleaning.note(f"answered up to {CLOCK_SKEW:g} s before arriving", skew.sum(), "answered set to arrived")
    df.loc[skew, "answered"] = df.loc[skew, "arrived"]
    worse = df["answered"] < df["arrived"]
    cleaning.note(f"answered more than {CLOCK_SKEW:g} s before arriving", worse.sum(), "dropped")
    df = df[~worse]
    ref = df["answered"].fillna(df["arrived"])
    short = df["ended"] < ref
    skew = short & (ref - df["ended"] <= CLOCK_SKEW)
    cleaning.note(f"ended up to {CLOCK_SKEW:g} s before it was answered (or arrived)", skew.sum(), "ended set to that time")
    df.loc[skew, "ended"] = ref[skew]
    worse = df["ended"] < df["answered"].fillna(df["arrived"])
    cleaning.note(f"ended more than {CLOCK_SKEW:g} s before it was answered (or arrived)", worse.sum(), "dropped")
    df = df[~worse]
    open_ = df["answered"].notna() & df["ended"].isna()
    cleaning.note("answered but never ended (open at the log's end)", open_.sum(), "kept; no handle time")
    no_agent = df["answered"].notna() & df["agent"].isna()
    cleaning.note("answered without an agent", no_agent.sum(), "kept; not counted in staffing")

    df = df.sort_values(["arrived", "contact_id"], kind="stable").reset_index(drop=True)
    df["day"] = (df["arrived"] // DAY).astype(int)
    df["clock"] = df["arrived"] - df["day"] * DAY
    df["served"] = df["answered"].notna()
    df["wait"] = np.where(df["served"], df["answered"] - df["arrived"], df["ended"] - df["arrived"])
    tr = None if transfers is None else _clean_transfers(transfers, df, columns or {}, start, cleaning, where)
    return ContactLog(df, tr, cleaning, source, start)


def _priorities(raw: pd.Series, cleaning: Cleaning, where: str) -> pd.Series:
    """The priority column as nullable integers. A few cells that are not whole numbers are counted
    and left missing; a column that is mostly something else (``high``, ``1.5``) is a :class:`LogError`."""
    filled = raw.notna() & (raw.astype("string").str.strip() != "")
    number = pd.to_numeric(raw.where(filled), errors="coerce")
    whole = number.notna() & np.isfinite(number.fillna(0.0)) & (number.fillna(0.0) % 1 == 0)
    bad = filled & ~whole
    if filled.any() and whole.sum() < 0.9 * filled.sum():
        raise LogError(f"{where}: column 'priority' holds values that are not whole numbers "
                       f"(e.g. {raw[bad].iloc[0]!r}); allowed: integers, higher served first (0, 1, 2, ...)")
    cleaning.note("priority not a whole number", bad.sum(), "kept; its priority unknown")
    return number.where(whole).astype("Int64")


def _clean_transfers(raw: pd.DataFrame, contacts: pd.DataFrame, columns: Mapping[str, str],
                     start: pd.Timestamp | None, cleaning: Cleaning, where: str) -> pd.DataFrame:
    raw = raw.rename(columns={v: k for k, v in columns.items() if k in TRANSFER_COLUMNS})
    missing = [c for c in ("contact_id", "requested", "target", "outcome") if c not in raw.columns]
    if missing:
        raise LogError(f"{where} (transfers): missing column(s) {', '.join(missing)}; the table has "
                       f"{', '.join(map(str, raw.columns))}; allowed columns: {', '.join(TRANSFER_COLUMNS)}")
    cols = ("requested", "joined") if "joined" in raw else ("requested",)
    if start is None:
        times = pd.DataFrame({c: pd.to_numeric(raw[c], errors="coerce") for c in cols}, index=raw.index)
    else:
        times = pd.DataFrame({c: (pd.to_datetime(raw[c], errors="coerce", format="ISO8601") - start).dt.total_seconds()
                              for c in cols}, index=raw.index)
    agent = (raw["agent"].astype("string").str.strip().replace("", pd.NA) if "agent" in raw
             else pd.Series(pd.NA, index=raw.index, dtype="string"))
    tr = pd.DataFrame({"contact_id": raw["contact_id"].astype(str), "requested": times["requested"].astype(float),
                       "joined": times["joined"].astype(float) if "joined" in times else math.nan,
                       "target": raw["target"].astype("string"), "outcome": raw["outcome"].astype("string").str.strip(),
                       "agent": agent})
    unknown = ~tr["outcome"].isin(TRANSFER_OUTCOMES)
    cleaning.note(f"a transfer outcome not in {', '.join(TRANSFER_OUTCOMES)}", unknown.sum(), "dropped")
    tr = tr[~unknown]
    orphan = ~tr["contact_id"].isin(set(contacts["contact_id"]))
    cleaning.note("a transfer of a contact not in the contact log", orphan.sum(), "dropped")
    tr = tr[~orphan & tr["requested"].notna()]
    return tr.sort_values(["requested", "contact_id"], kind="stable").reset_index(drop=True)


def read_log(path: str | os.PathLike[str], *, columns: str | Mapping[str, str] | None = None,
             transfers: str | os.PathLike[str] | None = None) -> ContactLog:
    """Read and clean a contact log (CSV or Parquet; docs/logs.md), and its transfers table if given.

    Rules: rows without an arrival time, or neither answered nor ended, are dropped; a repeated
    ``contact_id`` keeps its first row; times running backwards by up to :data:`CLOCK_SKEW` seconds
    (two systems' clocks) are set right, by more are dropped. Every fix and drop is counted in
    :attr:`ContactLog.cleaning`. Raises :class:`LogError` for a log that cannot be read at all.
    """
    p = Path(path)
    mapping = parse_columns(columns)
    raw = _read_table(p)
    tr = _read_table(Path(transfers)) if transfers is not None else None
    return clean_log(raw, columns=mapping, transfers=tr, source=str(p))


# -- the simulator's own log in this format ------------------------------------------------------------
def contacts_log(result: SimulationResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulation's contacts and transfers in the contact-log format (``run --out`` writes them
    as ``contacts.csv`` and ``contact_transfers.csv``), so the simulator's own output is a valid log.

    Replication ``r`` becomes day ``r x days per run``: times are clock seconds
    (``simulation.start`` + simulated time) on that day; ``contact_id`` is ``"<replication>-<contact>"``.
    Only contacts arriving after the warm-up are written, and only those that ended or were
    answered before the horizon. A ``priority`` column (each contact's service's) is added when the
    scenario's services differ in priority.
    """
    ev = result.events
    if ev is None:
        raise ValueError("the contacts log needs the event log: simulate with keep_events=True")
    sc = result.scenario
    sim = getattr(sc, "simulation", None)
    clock0 = float(sim.start_seconds) if sim is not None else 0.0
    warm = float(sim.warmup) if sim is not None else 0.0
    span = float(sim.warmup + sim.horizon) if sim is not None else float(ev["time"].max() or 0.0)
    days_per_run = max(1, math.ceil((clock0 + span) / DAY))
    offset = ev["replication"].astype(float) * days_per_run * DAY + clock0
    e = ev.assign(t=ev["time"].astype(float) + offset, event=ev["event"].astype(str), to=ev["to_state"].astype(str))
    key = ["replication", "contact"]
    arrive = e[e.event == "arrive"].set_index(key)
    arrive = arrive[arrive["time"] >= warm]
    first_assign = e[e.event == "assign"].drop_duplicates(key).set_index(key)
    finals = e[e["to"].isin(["completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired"])]
    final = finals.drop_duplicates(key).set_index(key)
    out = pd.DataFrame(index=arrive.index)
    out["service"] = arrive["service"].astype(str)
    out["group"] = first_assign["group"].astype(str).reindex(out.index)
    out.loc[out["group"].isna(), "group"] = arrive["group"].astype(str)
    out["agent"] = first_assign["agent"].astype(str).reindex(out.index)
    out["arrived"] = arrive["t"]
    out["answered"] = first_assign["t"].reindex(out.index)
    out["ended"] = final["t"].reindex(out.index)
    out = out[out["ended"].notna() | out["answered"].notna()].reset_index()
    out.insert(0, "contact_id", out["replication"].astype(str) + "-" + out["contact"].astype(str))
    levels = {str(s.name): int(getattr(s, "priority", 0)) for s in getattr(sc, "services", [])}
    contacts = out[list(LOG_COLUMNS)]
    if len(set(levels.values())) > 1:
        contacts = contacts.assign(priority=out["service"].map(levels).astype("Int64"))
    tr = result.transfers
    transfers = pd.DataFrame(columns=list(TRANSFER_COLUMNS))
    if tr is not None and len(tr):
        t = tr[tr["outcome"].astype(str).isin(["accepted", "transfer_expired", "abandoned_transfer"])].copy()
        base = t["replication"].astype(float) * days_per_run * DAY + clock0
        ids = t["replication"].astype(str) + "-" + t["contact"].astype(str)
        keep = ids.isin(set(contacts["contact_id"]))
        outcome = t["outcome"].astype(str).map({"accepted": "accepted", "transfer_expired": "expired",
                                                "abandoned_transfer": "customer_left"})
        acc = e[e.event == "accept"][["replication", "contact", "time", "agent"]].astype({"agent": str})
        joined_by = t[["replication", "contact", "ended_at"]].merge(
            acc, how="left", left_on=["replication", "contact", "ended_at"], right_on=["replication", "contact", "time"]
        )["agent"].to_numpy()
        transfers = pd.DataFrame({
            "contact_id": ids, "requested": t["requested_at"].astype(float) + base,
            "joined": np.where(outcome == "accepted", t["ended_at"].astype(float) + base, np.nan),
            "target": t["target"].astype(str), "outcome": outcome,
            "agent": np.where(outcome == "accepted", joined_by, None),
        })[keep].reset_index(drop=True)
    return contacts.reset_index(drop=True), transfers
