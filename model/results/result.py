"""``SimulationResult``: the event log and the metrics of a run, as pandas frames."""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .intervals import summarise_intervals
from .metrics import METRICS, TARGET_METRICS, Tally, summarise
from .records import EVENT_COLUMNS, TIMELINE_COLUMNS, TRANSFER_COLUMNS  # the columns of the engine's rows
from .scopes import scope_text, select_scope

if TYPE_CHECKING:
    from ..scenario import Scenario

ReplicationRow = tuple[int, str, str, str, float]
"""One figure of one replication: ``(replication, scope, key, metric, value)``."""


def per_replication_rows(
    replication: int,
    by_service: dict[str, Tally],
    by_target: dict[str, Tally],
    occupancy: dict[str, float],
    staffed: dict[str, float] | None = None,
) -> list[ReplicationRow]:
    """Tidy ``(replication, scope, key, metric, value)`` rows for one replication."""
    rows: list[ReplicationRow] = []
    overall = Tally(0.0)
    for name, tally in by_service.items():
        overall.merge(tally)
        for metric, value in tally.figures().items():
            rows.append((replication, "service", name, metric, value))
    for metric, value in overall.figures().items():
        rows.append((replication, "overall", "all", metric, value))
    for name, tally in by_target.items():
        figures = tally.figures()
        for metric in TARGET_METRICS:
            rows.append((replication, "target", name, metric, figures[metric]))
    for group, value in occupancy.items():
        rows.append((replication, "group", group, "agent_occupancy", value))
    for group, value in (staffed or {}).items():
        rows.append((replication, "group", group, "staffed_agents", value))
    return rows


def _fmt(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class SimulationResult:
    """A run of a scenario over replications.

    Attributes:
        scenario: the validated scenario that was run (read back from a ``run.json`` without its
            definition, only its name).
        seed: the base seed; replication ``i`` uses the streams of ``(seed, i)``.
        replications: how many replications were run.
        per_replication: tidy ``replication, scope, key, metric, value``.
        metrics: tidy ``scope, key, metric, mean, ci_low, ci_high, n`` (95 % t interval).
        events: one row per transition (``None`` when run with ``keep_events=False``).
        transfers: one row per transfer request (``None`` when run with ``keep_events=False``).
        timeline: per group, sampled over simulated time.
        intervals: per interval of the clock (when run with ``interval=``), tidy
            ``interval, scope, key, metric, mean, ci_low, ci_high, n``; ``interval`` is the
            interval's start clock time ``"HH:MM"``; ``None`` otherwise.
        per_replication_intervals: the per-replication values behind :attr:`intervals`.
        interval: the length of each interval in seconds (``None`` without intervals).
    """

    scenario: Scenario | str | None
    seed: int
    replications: int
    per_replication: pd.DataFrame
    events: pd.DataFrame | None = None
    transfers: pd.DataFrame | None = None
    timeline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMELINE_COLUMNS))
    per_replication_intervals: pd.DataFrame | None = None
    interval: float | None = None  # seconds of each interval of :attr:`intervals`
    metrics: pd.DataFrame = field(init=False)
    intervals: pd.DataFrame | None = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = summarise(self.per_replication)
        pri = self.per_replication_intervals
        self.intervals = None if pri is None else summarise_intervals(pri)

    def metric(self, name: str, scope: str = "overall", key: str | None = None) -> tuple[float, float, float]:
        """``(mean, ci_low, ci_high)`` of one figure, e.g. ``metric("transfer_abandonment_rate",
        "target:tech")`` (or ``"target", "tech"``; scopes: :mod:`.scopes`). An unknown scope raises
        :class:`~.scopes.UnknownScope` listing this result's scopes; an unknown figure a ``KeyError``."""
        m = self.metrics
        kind, key = select_scope(m, scope, key)
        row = m[(m.scope == kind) & (m.key == key) & (m.metric == name)]
        if row.empty:
            known = sorted(set(m[(m.scope == kind) & (m.key == key)].metric))
            raise KeyError(f"no metric {name!r} for {scope_text(kind, key)}; its metrics: {', '.join(known)}")
        r = row.iloc[0]
        return (float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]))

    def by_interval(self, metric: str, scope: str = "overall", key: str | None = None) -> pd.DataFrame:
        """One figure per interval of the clock, indexed by ``interval`` (``"HH:MM"``), with columns
        ``mean, ci_low, ci_high, n``: e.g. ``by_interval("queue_abandonment_rate")`` or
        ``by_interval("staffed_agents", "group:billing")``. Needs a run with ``interval=``."""
        iv = self.intervals
        if iv is None:
            raise ValueError("this result has no intervals: simulate(..., interval=\"1h\") gives them")
        kind, key = select_scope(iv, scope, key, what="this result's intervals")
        rows = iv[(iv.scope == kind) & (iv.key == key) & (iv.metric == metric)]
        if rows.empty:
            known = sorted(set(iv[(iv.scope == kind) & (iv.key == key)].metric))
            raise KeyError(f"no metric {metric!r} per interval for {scope_text(kind, key)}; its metrics: {known}")
        return rows.set_index("interval")[["mean", "ci_low", "ci_high", "n"]]

    def table(self, scope: str = "overall", key: str | None = None, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """The figures of one scope (``"target:tech"``, or ``"target", "tech"``) as a readable frame
        indexed by metric name."""
        m = self.metrics
        kind, key = select_scope(m, scope, key)
        sel = m[(m.scope == kind) & (m.key == key)].set_index("metric")[["mean", "ci_low", "ci_high", "n"]]
        if metrics is not None:
            sel = sel.reindex([x for x in metrics if x in sel.index])
        return sel

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: ``{"scenario", "replications", "seed", "metrics": {"overall",
        "by_service", "by_target", "by_group"}}``, each figure ``{"mean": x, "ci95": [lo, hi]}``."""
        out: dict[str, Any] = {"overall": {}, "by_service": {}, "by_target": {}, "by_group": {}}
        where = {"overall": None, "service": "by_service", "target": "by_target", "group": "by_group"}
        for r in self.metrics.itertuples(index=False):
            entry = {"mean": _fmt(r.mean), "ci95": [_fmt(r.ci_low), _fmt(r.ci_high)]}
            if r.scope == "overall":
                out["overall"][r.metric] = entry
            else:
                out[where[r.scope]].setdefault(r.key, {})[r.metric] = entry
        result: dict[str, Any] = {
            "scenario": getattr(self.scenario, "name", None),
            "replications": self.replications,
            "seed": self.seed,
            "metrics": out,
        }
        if self.intervals is not None:
            result["interval_seconds"] = self.interval
            result["intervals"] = [
                {"interval": r.interval, "scope": r.scope, "key": r.key, "metric": r.metric, "mean": _fmt(r.mean),
                 "ci95": [_fmt(r.ci_low), _fmt(r.ci_high)]}
                for r in self.intervals.itertuples(index=False)
            ]
        return result

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (NaN written as ``null``)."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_parquet(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``events.parquet`` (when kept), ``transfers.parquet``, ``timeline.parquet``,
        ``per_replication.parquet``, ``metrics.csv`` and ``run.json`` into ``directory``.

        Each file is written to a temporary name and renamed, so a crash never leaves a
        half-written file behind.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        frames = {
            "events.parquet": self.events,
            "transfers.parquet": self.transfers,
            "timeline.parquet": self.timeline,
            "per_replication.parquet": self.per_replication,
            "per_replication_intervals.parquet": self.per_replication_intervals,
            "intervals.parquet": self.intervals,
        }
        for name, frame in frames.items():
            if frame is not None:
                atomic_write(d / name, lambda p, f=frame: f.to_parquet(p, index=False))
        atomic_write(d / "metrics.csv", lambda p: self.metrics.to_csv(p, index=False))
        if self.intervals is not None:
            atomic_write(d / "intervals.csv", lambda p: self.intervals.to_csv(p, index=False))  # type: ignore[union-attr]
        meta = self.to_dict()
        if hasattr(self.scenario, "to_dict"):
            meta["scenario_definition"] = self.scenario.to_dict()
        atomic_write(d / "run.json", lambda p: Path(p).write_text(json.dumps(meta, indent=2, default=str)))
        return d

    @classmethod
    def from_parquet(cls, directory: str | os.PathLike[str]) -> SimulationResult:
        """Read back what :meth:`to_parquet` wrote (the scenario as reloaded from ``run.json``)."""
        d = Path(directory)
        meta = json.loads((d / "run.json").read_text())
        scenario: Scenario | str | None = meta.get("scenario")
        if "scenario_definition" in meta:
            from ..scenario import scenario_from_dict

            scenario = scenario_from_dict(meta["scenario_definition"])

        def read(name: str) -> pd.DataFrame | None:
            p = d / name
            return pd.read_parquet(p) if p.exists() else None

        return cls(
            scenario=scenario,
            seed=meta["seed"],
            replications=meta["replications"],
            per_replication=read("per_replication.parquet"),  # type: ignore[arg-type]
            events=read("events.parquet"),
            transfers=read("transfers.parquet"),
            timeline=read("timeline.parquet") if (d / "timeline.parquet").exists() else pd.DataFrame(columns=TIMELINE_COLUMNS),
            per_replication_intervals=read("per_replication_intervals.parquet"),
            interval=meta.get("interval_seconds"),
        )


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` then rename ``tmp`` to ``path``; nothing is left behind on failure.

    The file gets the permissions of any new file (``0666`` less the umask), not ``0600``: the
    temporary name is created with :func:`os.open` (which applies the umask), not ``mkstemp``.
    An :class:`OSError` (a full disk, a read-only folder) is raised again naming ``path``.
    """
    path = Path(path)
    tmp = None
    try:
        for _ in range(100):
            candidate = path.parent / f".{path.name}.{secrets.token_hex(4)}.part"
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:  # pragma: no cover - 100 collisions of 32 random bits
            raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException as err:  # broad: cleanup then re-raise; Ctrl-C must not leave a .part file either
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename != str(path):
            raise _named(err, path) from err
        raise


def _named(err: OSError, path: Path) -> OSError:
    """``err`` as an OSError of the same kind whose ``filename`` is ``path`` (the final name, not the
    temporary one; pyarrow's errors name no file at all)."""
    code = err.errno
    reason = err.strerror or str(err)
    if code is None and "No space left on device" in str(err):
        code, reason = errno.ENOSPC, os.strerror(errno.ENOSPC)
    return OSError(code, reason, str(path)) if code is not None else OSError(errno.EIO, reason, str(path))


# -- whole output folders: one kind of output per folder, replaced as a whole ------------------------
KIND_MARKERS = (
    ("run.json", "the output of 'run --out'"),
    ("sweep.json", "a sweep store ('sweep --out')"),
    ("tune.json", "the output of 'tune --out'"),
    ("plan.json", "a staffing plan ('plan --out')"),
    ("whatif.csv", "a what-if page ('whatif --out')"),
    ("index.html", "a report"),
)
"""Which file marks which kind of output folder (the first present wins)."""

TEMP_INFIX = ".part-"
"""Hidden temporary folders are named ``.<name>.part-<pid>`` next to the folder they will become."""


def folder_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` holds: ``None`` (missing or empty folder), ``"run"``, ``"sweep"``, ``"tune"``,
    ``"report"``, ``"file"`` (not a folder) or ``"other"`` (a folder of something else)."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return None
    if not p.is_dir():
        return "file"
    if not any(c.name != ".DS_Store" for c in p.iterdir()):
        return None
    for marker, _ in KIND_MARKERS:
        if (p / marker).is_file():
            return marker.split(".")[0] if marker != "index.html" else "report"
    return "other"


def describe_folder(path: str | os.PathLike[str]) -> str:
    """One phrase: what ``path`` holds, e.g. "a sweep store ('sweep --out')" or "3 other files (a.txt, b, c)"."""
    p = Path(path)
    kind = folder_kind(p)
    if kind is None:
        return "nothing"
    if kind == "file":
        return "a file, not a folder"
    for marker, text in KIND_MARKERS:
        if (p / marker).is_file():
            return f"{text} ({marker})"
    names = sorted(c.name for c in p.iterdir())
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} other file{'s' if len(names) != 1 else ''} ({shown})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temps(final: str | os.PathLike[str]) -> list[Path]:
    """Remove the hidden temporary folders ``.<name>.part-<pid>`` next to ``final`` whose process is
    gone (a run killed with SIGKILL leaves one). Returns what was removed."""
    import shutil

    f = Path(final)
    removed = []
    prefix = f".{f.name}{TEMP_INFIX}"
    try:
        siblings = list(f.parent.iterdir()) if f.parent.is_dir() else []
    except OSError:
        return removed
    for c in siblings:
        if not c.name.startswith(prefix) or not c.is_dir() or c.is_symlink():
            continue
        pid = c.name[len(prefix):].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(c, ignore_errors=True)
            removed.append(c)
    return removed


def temp_folder(final: str | os.PathLike[str]) -> Path:
    """A new empty hidden folder ``.<name>.part-<pid>`` next to ``final`` (same file system, so it
    can be renamed into place); ``0777`` less the umask. Creates ``final``'s parent if needed."""
    f = Path(final)
    f.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(f)
    base = f.parent / f".{f.name}{TEMP_INFIX}{os.getpid()}"
    for i in range(1000):
        candidate = base if i == 0 else base.with_name(f"{base.name}.{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, "no free temporary folder name", str(base))  # pragma: no cover


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False when unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def folder_written(final: str | os.PathLike[str]) -> Iterator[Path]:
    """A hidden temporary folder next to ``final`` to write an output into; when the block ends
    without error it is moved into place whole (:func:`replace_folder`), otherwise removed. An
    :class:`OSError` is raised again naming the path under ``final``, not the temporary one."""
    import shutil

    out = Path(final)
    tmp = temp_folder(out)
    try:
        yield tmp
        replace_folder(tmp, out)
    except OSError as err:
        name = str(err.filename) if err.filename is not None else str(out)
        if name.startswith(str(tmp)):
            name = str(out) + name[len(str(tmp)):]
        raise OSError(err.errno, err.strerror or str(err), name) from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_folder(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> Path:
    """Move the finished folder ``tmp`` to ``final`` as a whole.

    ``final`` missing or empty: one ``rename``. ``final`` holding an earlier output: the two are
    swapped atomically where the system can (Linux), then the old one is deleted; elsewhere the old
    one is first renamed to a hidden temporary name (a crash between the two renames leaves the old
    output there, hidden, and no ``final``). Either way no reader ever sees a half-written ``final``.
    """
    import shutil

    t, f = Path(tmp), Path(final)
    if not f.exists():
        os.rename(t, f)
        return f
    if f.is_dir() and not any(f.iterdir()):
        os.rename(t, f)  # POSIX rename replaces an empty folder
        return f
    if _exchange(t, f):
        shutil.rmtree(t, ignore_errors=True)  # now holds the old output
        return f
    old = temp_folder(f)
    os.rmdir(old)
    os.rename(f, old)
    os.rename(t, f)
    shutil.rmtree(old, ignore_errors=True)
    return f


__all__ = [
    "SimulationResult", "METRICS", "EVENT_COLUMNS", "TRANSFER_COLUMNS", "TIMELINE_COLUMNS", "ReplicationRow",
    "per_replication_rows",
]
