"""Checking recorded traces: does a log of what an implementation did follow the model?

What TLA+ trace validation does for a specification, here for the transfer lifecycle: a trace
recorded by an implementation (in production, or by the simulator: ``run --out DIR --trace``)
is replayed contact by contact on the reference model, a :class:`~model.lifecycle.Contact` on a
virtual clock started at the contact's arrival. Before each record the model's clock is moved to
the record's time, and its timers must fire exactly where the trace says: a timer the model fires
before (or at) a record's time that the trace does not show fails at that record, and a recorded
timer event the model does not fire at that time fails too. Then the recorded event is sent and
the state the model reaches is compared with the recorded one. The first disagreement of each
contact is its failure; the traffic's coverage is measured with the suite's
:class:`~model.conformance.goals.Tracer`, under the suite's goal names.

The format (docs/conformance.md, "Recorded traces"): JSON lines; the first ``{"config": {...}}``
(a suite case's config); then one record per transition, ``{"contact": ID, "t": SECONDS, "event":
NAME, "data": {...}, "state": LEAF_STATE}``, a contact's first being ``arrive`` (``queued``).
A file that does not follow it raises :class:`TraceError` naming the file, line and field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TransferSimError
from ..lifecycle import EVENTS, FINAL_STATES, STATES, TIMEOUT_POLICIES, TIMERS, Contact, EventNotAllowed
from .suite import DIMENSIONS, Goal, Tracer, all_goals, format_coverage, rules_from_config

__all__ = ["ARRIVE", "TRACE_DATA", "TraceError", "Record", "ContactFailure", "TraceResult", "check_trace",
           "format_trace_result", "conform_trace"]

ARRIVE = "arrive"
"""The event of a contact's first record (not an event of the lifecycle: the contact's creation)."""

TRACE_DATA: dict[str, Callable[[Any], bool]] = {
    "agent": lambda v: isinstance(v, str),
    "agents": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    "target": lambda v: isinstance(v, str),
    "message": lambda v: v is None or isinstance(v, str),
}
"""The event data a record may carry (LIFECYCLE.md's names) and the type each must have; other
keys of ``data`` are ignored."""

_HISTORY = 8  # records of a failing contact shown before its failure


class TraceError(TransferSimError, ValueError):
    """A trace that does not follow the format: the message names the file, line and field."""

    def __init__(self, source: str, line: int, field: str, problem: str) -> None:
        self.source, self.line, self.field, self.problem = source, line, field, problem
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {field + ': ' if field else ''}{problem}")

    def __reduce__(self) -> tuple[type, tuple[str, int, str, str]]:
        return type(self), (self.source, self.line, self.field, self.problem)


@dataclass(frozen=True)
class Record:
    """One record of a trace: what happened to ``contact`` at time ``t``, and the state it reached."""

    line: int
    contact: str | int
    t: float
    event: str
    data: dict[str, Any]
    state: str

    def text(self) -> str:
        """``t=12.5  accept {"agent": "b1"} -> engaged``."""
        data = f" {json.dumps(self.data)}" if self.data else ""
        return f"t={_num(self.t)}  {self.event}{data} -> {self.state}"


@dataclass
class ContactFailure:
    """The first record of a contact where the trace and the model disagree."""

    contact: str | int
    line: int
    trace: str  # what the trace says
    model: str  # what the model says
    history: list[Record] = field(default_factory=list)  # the contact's records up to that line


@dataclass
class TraceResult:
    """The check of one trace: its failures (one per failing contact) and the coverage reached."""

    source: str
    config: dict[str, Any]
    records: int
    contacts: int
    failures: list[ContactFailure]
    coverage: dict[str, dict[str, Any]]

    @property
    def passed(self) -> bool:
        return not self.failures


def _num(t: float) -> str:
    return f"{t:.12g}"


def _check_config(cfg: Any, err: Callable[[str, str], TraceError]) -> dict[str, Any]:
    """The config line's config, checked as a suite case's config."""
    if not isinstance(cfg, dict):
        raise err("config", 'the first line must be {"config": {...}}')
    for key in ("transfer_timeout", "dissuasion_timeout"):
        v = cfg.get(key)
        if key in cfg and not (v is None and key == "dissuasion_timeout") and not (
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
            raise err(f"config.{key}", f"a number of seconds >= 0{' or null' if key != 'transfer_timeout' else ''}, "
                                       f"got {v!r}")
    if cfg.get("on_transfer_timeout", "abandon") not in TIMEOUT_POLICIES:
        raise err("config.on_transfer_timeout", f"one of {', '.join(map(repr, TIMEOUT_POLICIES))}")
    targets = cfg.get("targets")
    if "targets" in cfg and not (isinstance(targets, dict) and all(
            isinstance(m, list) and all(isinstance(a, str) for a in m) for m in targets.values())):
        raise err("config.targets", "an object: group name -> list of agent names")
    return cfg


def _record(obj: Any, line: int, err: Callable[[str, str], TraceError]) -> Record:
    """A record line, checked: its fields present, of their types, names of the lifecycle."""
    if not isinstance(obj, dict):
        raise err("", f"a record is a JSON object, got {json.dumps(obj)[:80]}")
    for key in ("contact", "t", "event", "state"):
        if key not in obj:
            raise err(key, "missing")
    contact, t, event, state, data = obj["contact"], obj["t"], obj["event"], obj["state"], obj.get("data", {})
    if isinstance(contact, bool) or not isinstance(contact, (str, int)):
        raise err("contact", f"a string or an integer, got {contact!r}")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise err("t", f"a number of seconds, got {t!r}")
    if event != ARRIVE and event not in EVENTS:
        raise err("event", f"unknown event {event!r}; events are {ARRIVE}, {', '.join(EVENTS)}")
    if state not in STATES:
        raise err("state", f"unknown state {state!r}; states are {', '.join(STATES)}")
    if not isinstance(data, dict):
        raise err("data", f"an object, got {data!r}")
    for key, ok in TRACE_DATA.items():
        if key in data and not ok(data[key]):
            raise err(f"data.{key}", f"wrong type: {data[key]!r}")
    return Record(line, contact, float(t), event, {k: v for k, v in data.items() if k in TRACE_DATA}, state)


def _step_to(now: float, t: float) -> float:
    """Seconds ``s`` such that ``now + s`` reaches ``t`` in floating point (exactly, or an ulp past)."""
    s = t - now
    while now + s < t:
        s = math.nextafter(s, math.inf)
    return s


class _Replay:
    """One contact on the model: the oracle (a :class:`Contact` whose clock reads the trace's
    times, timers fired by hand) and a :class:`Tracer` beside it, on time since arrival, for coverage."""

    def __init__(self, config: Mapping[str, Any], first: Record) -> None:
        self.contact = Contact(rules_from_config(config), now=first.t, engine="compiled", auto_timers=False)
        self.arrived = first.t
        self.history = [first]
        self.failed = False
        self.tracer: Tracer | None = Tracer(config)
        self.goals: set[Goal] = self.tracer.start()

    @property
    def last(self) -> Record:
        return self.history[-1]

    def step(self, rec: Record) -> str | None:
        """Replay ``rec``; what the model says when it disagrees, else ``None``."""
        c = self.contact
        timer = c.due_timer(rec.t)
        if timer is not None:
            at = TIMERS[timer].deadline_of(c.data)
            if not (timer == rec.event and at == rec.t):
                return self._unrecorded(timer, at, rec.event == timer)
        if rec.event in TIMERS:
            if timer is None:
                return self._not_due(rec)
            c.send(rec.event, now=rec.t)
        else:
            c.advance(rec.t)
            source = c.state
            try:
                c.send(rec.event, **dict(rec.data))
            except EventNotAllowed as err:
                return f"{rec.event} is refused in state {source}: {err.reason}"
        self._trace(rec)
        if c.state != rec.state:
            return f"{rec.event} leads to {c.state}"
        return None

    def _unrecorded(self, timer: str, at: float, same: bool) -> str:
        """A timer due by the record's time that the trace does not show there."""
        c = self.contact
        source = c.state
        c.send(timer, now=at)
        fired = f"{timer} fires at t={_num(at)} ({source} -> {c.state})"
        return f"{fired}; the trace records it later" if same else f"{fired} before this record; the trace does not show it"

    def _not_due(self, rec: Record) -> str:
        timer = TIMERS[rec.event]
        d = self.contact.data
        if d.state not in timer.states:
            return f"no {timer.label} runs in state {d.state}"
        deadline = timer.deadline_of(d)
        if not math.isfinite(deadline):
            return f"the {timer.label} is off (no timeout configured)"
        return f"the {timer.label} is due at t={_num(deadline)}, not yet at t={_num(rec.t)}"

    def _trace(self, rec: Record) -> None:
        """Take ``rec`` on the coverage tracer too (informative: it stops following on surprise)."""
        tr = self.tracer
        if tr is None:
            return
        try:
            rel = rec.t - self.arrived
            if rel > tr.now:
                self.goals |= tr.advance(_step_to(tr.now, rel))
            if rec.event in TIMERS:
                timer = TIMERS[rec.event]
                deadline = timer.deadline_of(tr.contact.data)
                if tr.contact.state in timer.states and math.isfinite(deadline):  # rounding of time since arrival
                    self.goals |= tr.advance(_step_to(tr.now, max(deadline, tr.now)))
            else:
                self.goals |= tr.send(rec.event, rec.data)[1]
        except Exception:  # broad: the tracer only measures coverage; if it cannot follow, it stops counting
            self.tracer = None


def _lines(source: str | Path | Iterable[str]) -> tuple[str, Iterable[str]]:
    """The trace's name (for messages) and its lines, read as they are needed."""
    if not isinstance(source, (str, Path)):
        return "<trace>", source
    path = Path(source)

    def read() -> Iterator[str]:
        try:
            with path.open("rb") as f:
                for n, raw in enumerate(f, start=1):
                    try:
                        yield raw.decode("utf-8")
                    except UnicodeDecodeError as err:
                        raise TraceError(str(path), n, "", f"not UTF-8 text ({err.reason})") from None
        except OSError as err:
            raise TraceError(str(path), 0, "", f"cannot read: {err.strerror or err}") from None

    return str(path), read()


def check_trace(source: str | Path | Iterable[str]) -> TraceResult:
    """Check a recorded trace (a file path, or its lines) against the model.

    Raises :class:`TraceError` when the trace does not follow the format (not JSON, no config
    line, unknown event or state names, time going back within a contact, ...).
    """
    name, lines = _lines(source)
    config: dict[str, Any] | None = None
    replays: dict[str | int, _Replay] = {}
    failures: list[ContactFailure] = []
    records = 0
    end = -math.inf
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue

        def err(key: str, problem: str, n: int = n) -> TraceError:
            return TraceError(name, n, key, problem)

        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise err("", f"not JSON ({e.msg} at column {e.colno})") from None
        if config is None:
            if not isinstance(obj, dict) or "config" not in obj:
                raise err("config", 'the first line must be {"config": {...}}')
            config = _check_config(obj["config"], err)
            continue
        rec = _record(obj, n, err)
        records += 1
        end = max(end, rec.t)
        rp = replays.get(rec.contact)
        if rp is None:
            if rec.event != ARRIVE:
                raise err("event", f"contact {rec.contact!r} first appears with {rec.event!r}; its first record "
                                   f"must be {ARRIVE!r}")
            rp = replays[rec.contact] = _Replay(config, rec)
            if rec.state != rp.contact.state:
                rp.failed = True
                failures.append(ContactFailure(rec.contact, n, rec.text(), f"a contact arrives in {rp.contact.state}",
                                               [rec]))
            continue
        if rec.event == ARRIVE:
            raise err("event", f"contact {rec.contact!r} arrives again (it arrived at line {rp.history[0].line})")
        if rec.t < rp.last.t:
            raise err("t", f"time goes back for contact {rec.contact!r}: {_num(rec.t)} after {_num(rp.last.t)} "
                           f"(line {rp.last.line})")
        rp.history.append(rec)
        if rp.failed:
            continue
        said = rp.step(rec)
        if said is not None:
            rp.failed = True
            failures.append(ContactFailure(rec.contact, n, rec.text(), said, rp.history[-_HISTORY:]))
    if config is None:
        raise TraceError(name, 0, "config", 'empty trace: the first line must be {"config": {...}}')
    failures += _ends(replays, end)
    failures.sort(key=lambda f: f.line)
    goals = set().union(*(rp.goals for rp in replays.values())) if replays else set()
    return TraceResult(name, config, records, len(replays), failures, _coverage(goals))


def _ends(replays: Mapping[str | int, _Replay], end: float) -> list[ContactFailure]:
    """Contacts left open whose timer falls due before the trace's last record: it never fired."""
    out = []
    for contact, rp in replays.items():
        c = rp.contact
        if rp.failed or c.state in FINAL_STATES:
            continue
        timer = c.due_timer(end)
        if timer is not None and TIMERS[timer].deadline_of(c.data) < end:
            last = rp.last
            said = rp._unrecorded(timer, TIMERS[timer].deadline_of(c.data), False)
            trace = f"{last.text()}; no later record of this contact (the trace goes on to t={_num(end)})"
            out.append(ContactFailure(contact, last.line, trace, said, rp.history[-_HISTORY:]))
    return out


def _coverage(goals: set[Goal]) -> dict[str, dict[str, Any]]:
    """Goals reached, per dimension, in the suite's coverage shape (nothing marked unreachable)."""
    out: dict[str, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        names = all_goals()[dim]
        missing = [g for g in names if (dim, g) not in goals]
        out[dim] = {"covered": len(names) - len(missing), "total": len(names), "not_covered": missing,
                    "unreachable": []}
    return out


def format_trace_result(result: TraceResult, verbose: bool = False) -> list[str]:
    """What ``conform --trace`` prints: the verdict, the coverage, then each failing contact
    (the first 10 unless ``verbose``) with its line, what the trace says and what the model says."""
    failing = len(result.failures)
    lines = [f"trace {result.source}: {result.records} records of {result.contacts} contacts",
             f"  config: {json.dumps(result.config)}",
             f"{result.contacts - failing} of {result.contacts} contacts follow the model"
             + (f"; {failing} {'does' if failing == 1 else 'do'} not" if failing else ""),
             "coverage of the traced traffic:", format_coverage(result.coverage, details=verbose)]
    shown = result.failures if verbose else result.failures[:10]
    if shown:
        lines.append(f"\ncontacts that do not follow the model ({failing}; in line order):")
    for f in shown:
        lines += ["", f"contact {json.dumps(f.contact)}: line {f.line}",
                  f"  trace says: {f.trace}", f"  model says: {f.model}", "  its records:"]
        lines += [f"   {'>>' if r.line == f.line else '  '} line {r.line:<6} {r.text()}" for r in f.history]
    if len(shown) < failing:
        lines.append(f"\n... and {failing - len(shown)} more (--verbose shows all)")
    return lines


def conform_trace(path: Path, verbose: bool = False, echo: Callable[[str], None] = print) -> int:
    """The body of ``transfer-sim conform --trace FILE``: 0 when every contact follows the model,
    1 otherwise; a file that does not follow the format raises :class:`TraceError` (exit 2)."""
    result = check_trace(path)
    for line in format_trace_result(result, verbose):
        echo(line)
    return 0 if result.passed else 1
