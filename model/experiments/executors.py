"""Where the work runs: ``"processes"`` (every core), ``"serial"``, or a Dask cluster.

Why: a sweep only needs *submit a call*, *wait for the next one to finish* and, when a worker
process dies, *start again without it*; this module gives the three back ends that one shape, so
the sweep loop is written once.

Failures never cross a process boundary as exceptions: :func:`guarded` runs the call in the
worker and returns ``("ok", value)`` or ``("error", summary)``, where the summary (type name,
message, formatted traceback) is plain data. An exception that cannot be pickled, or whose class
cannot be rebuilt from its ``args``, therefore reaches the parent as its message, and never breaks
the pool. A worker that dies (``os._exit``, a signal, the out-of-memory killer) breaks a process
pool: :meth:`Runner.restart` replaces it, and :meth:`Runner.run_alone` runs a suspect call alone
to tell which call killed its worker (:class:`WorkerDied`, with the exit code).
"""

from __future__ import annotations

import os
import signal
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ..errors import TransferSimError

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future, ProcessPoolExecutor

    from distributed import Client

__all__ = ["Runner", "make_runner", "ExecutorSpec", "FutureLike", "WorkerDied", "guarded", "error_summary"]

ExecutorSpec: TypeAlias = "str | Runner | Executor | Client | None"
"""``"processes"`` (or ``None``) | ``"serial"`` | a Dask scheduler address (``"tcp://host:8786"``) |
a ``dask.distributed.Client`` | a ``concurrent.futures.Executor`` (used as given) | a :class:`Runner`."""


class FutureLike(Protocol):
    """What a runner's ``submit`` returns: a ``concurrent.futures.Future``, a Dask future, or a
    serial call run when waited for; only ``done`` and ``result`` are relied on."""

    def done(self) -> bool: ...

    def result(self) -> Any: ...


def _ignore_sigint() -> None:  # pragma: no cover - runs in worker processes
    # Ctrl-C goes to the whole process group; only the parent should react (and stop the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class WorkerDied(TransferSimError):
    """The worker process running a call died (``os._exit``, a signal, out of memory): the call
    gave no result and no exception. ``exit_code`` is the process's exit code (negative: the
    signal), or ``None`` when the back end does not say."""

    def __init__(self, exit_code: int | None = None, detail: str | None = None) -> None:
        self.exit_code = exit_code
        self.detail = detail
        super().__init__(_died_message(exit_code, detail))


def _died_message(exit_code: int | None, detail: str | None = None) -> str:
    if exit_code is None:
        what = "exit code unknown"
    elif exit_code < 0:
        try:
            what = f"exit code {exit_code}, killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            what = f"exit code {exit_code}"
    else:
        what = f"exit code {exit_code}"
    return f"worker process died ({what}{'; ' + detail if detail else ''})"


def error_summary(err: BaseException) -> dict[str, str]:
    """What the parent needs of an exception, as plain (always picklable) data: ``type`` (the class
    name), ``message`` (``str(err)``), ``error`` (one line: ``"Type: message"``) and ``traceback``."""
    name = type(err).__name__
    try:
        message = str(err)
    except Exception as broken:  # broad: any error of a user's __str__; it is named in the message
        message = f"{err.args!r} (its str() raised {type(broken).__name__})"
    one_line = " ".join(message.split())
    try:
        tb = "".join(traceback.format_exception(err))
    except Exception as broken:  # pragma: no cover - broad: the summary of a failure must itself never fail
        tb = f"{name}: {message}\n(no traceback: formatting it raised {type(broken).__name__})\n"
    return {"type": name, "message": message, "error": f"{name}: {one_line}" if one_line else name, "traceback": tb}


def guarded(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """Run ``fn(*args)`` (in a worker) and return ``("ok", value)`` or ``("error", summary)``
    (:func:`error_summary`): whatever ``fn`` raises, nothing but plain data goes back."""
    try:
        return ("ok", fn(*args))
    except (Exception, SystemExit) as err:  # broad: every failure of a call is its point's, recorded in full
        return ("error", error_summary(err))


class _Done:
    """A finished serial call, shaped like a future."""

    __slots__ = ("_fn", "_args", "_value", "_error", "_ran")

    def done(self) -> bool:
        return self._ran

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._fn, self._args, self._ran = fn, args, False
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._fn(*self._args)
        except Exception as err:  # broad: held whole and raised again by result(), like a remote failure
            self._error = err
        self._ran = True

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class Runner:
    """Submit calls, then wait for them as they finish (``wait`` or ``completed``); ``close`` when done."""

    kind = "base"
    workers = 1

    @property
    def window(self) -> int:
        """How many calls to keep submitted at once: enough to keep every worker busy, few enough
        that the calls lost when a worker dies are known (they are the ones submitted)."""
        return self.workers + 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> FutureLike:
        """Start ``fn(*args)`` (or queue it); its future."""
        raise NotImplementedError

    def wait(self, futures: Iterable[FutureLike]) -> list[FutureLike]:
        """Block until at least one of ``futures`` is done; return those done."""
        fs = list(futures)
        for f in self.completed(fs):
            return [f] + [g for g in fs if g is not f and g.done()]
        return []

    def completed(self, futures: Iterable[FutureLike]) -> Iterator[FutureLike]:
        """``futures`` in the order they finish."""
        raise NotImplementedError

    def is_broken(self, err: BaseException) -> bool:
        """Whether ``err`` (from a future's ``result()``) means the pool lost a worker and every call
        in it (a ``BrokenProcessPool``), rather than that this call failed."""
        return False

    def restart(self) -> None:
        """Replace a broken pool by a new one (calls submitted before are lost)."""

    def describe(self, err: BaseException) -> dict[str, str]:
        """:func:`error_summary` of an exception a future's ``result()`` raised in this process."""
        return error_summary(err)

    def run_alone(self, fn: Callable[..., Any], *args: Any) -> FutureLike:
        """Run one call with nothing else in its worker's pool; return its finished future. If the
        worker dies, the future's ``result()`` raises :class:`WorkerDied` (with the exit code)."""
        fut = self.submit(fn, *args)
        self.wait([fut])
        return fut

    def cancel(self, futures: Iterable[FutureLike]) -> None:
        """Drop work not started yet (after an interruption)."""

    def close(self) -> None:
        """Release what the runner created (not what it was given)."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SerialRunner(Runner):
    """In this process, one call at a time, lazily: a call runs when ``completed`` reaches it."""

    kind = "serial"

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        return _Done(fn, args)

    @property
    def window(self) -> int:
        return 1  # lazily, one call at a time

    def completed(self, futures: Iterable[FutureLike]) -> Iterator[FutureLike]:
        # only its own futures (_Done) come back here
        for f in futures:
            if not f._ran:
                f.run()
            yield f

    def wait(self, futures: Iterable[FutureLike]) -> list[FutureLike]:
        fs = list(futures)
        done = [f for f in fs if f._ran]
        if done:
            return done
        if fs:
            fs[0].run()
            return [fs[0]]
        return []


class FuturesRunner(Runner):
    """A ``concurrent.futures`` executor (a process pool on every core by default)."""

    def __init__(self, executor: Executor | None = None, workers: int | None = None) -> None:
        import concurrent.futures as cf

        self._cf = cf
        self._own = executor is None
        if executor is None:
            self.workers = max(1, workers or os.cpu_count() or 1)
            executor = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=_ignore_sigint)
            self.kind = "processes"
        else:
            self.workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
            self.kind = type(executor).__name__
        self.executor = executor
        self._alone: ProcessPoolExecutor | None = None  # a one-process pool for run_alone, made when first needed

    def submit(self, fn: Callable[..., Any], *args: Any) -> FutureLike:
        return self.executor.submit(fn, *args)

    def wait(self, futures: Iterable[FutureLike]) -> list[FutureLike]:
        fs = list(futures)
        if not fs:
            return []
        return list(self._cf.wait(fs, return_when=self._cf.FIRST_COMPLETED).done)

    def completed(self, futures: Iterable[FutureLike]) -> Iterator[FutureLike]:
        return self._cf.as_completed(list(futures))

    def cancel(self, futures: Iterable[FutureLike]) -> None:
        for f in futures:
            f.cancel()

    def is_broken(self, err: BaseException) -> bool:
        return isinstance(err, self._cf.BrokenExecutor)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return self._cf.ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)

    def restart(self) -> None:
        """A new process pool of the same size. A pool given by the caller is left as it is (broken)
        and replaced by one of ours, closed by :meth:`close`; other executors cannot be replaced."""
        old = self.executor
        if not self._own and not isinstance(old, self._cf.ProcessPoolExecutor):
            raise RuntimeError(f"the executor {type(old).__name__} broke and cannot be replaced")
        if self._own:
            old.shutdown(wait=True, cancel_futures=True)
        self.executor = self._new_pool(self.workers)
        self._own = True
        self.kind = "processes"

    def run_alone(self, fn: Callable[..., Any], *args: Any) -> FutureLike:
        if not isinstance(self.executor, self._cf.ProcessPoolExecutor) and not self._own:
            return super().run_alone(fn, *args)  # threads: nothing to die
        if self._alone is None:
            self._alone = self._new_pool(1)
        pool = self._alone
        fut = pool.submit(fn, *args)
        processes = getattr(pool, "_processes", None) or {}  # the pool's own dict: still there after a break
        # waits without raising the call's own failure (the future keeps it for the caller);
        # Ctrl-C while waiting stops the caller
        err = fut.exception()
        if isinstance(err, self._cf.BrokenExecutor):
            self._alone = None
            pool.shutdown(wait=True, cancel_futures=True)  # joins the dead worker: its exit code is known
            codes = [p.exitcode for p in list(processes.values()) if p.exitcode not in (None, 0)]
            died: Future[Any] = self._cf.Future()
            died.set_exception(WorkerDied(codes[0] if codes else None))
            died._broken_by = err  # the pool's own error, for a debugger
            return died
        return fut

    def close(self) -> None:
        if self._alone is not None:
            self._alone.shutdown(wait=True, cancel_futures=True)
            self._alone = None
        if self._own:
            self.executor.shutdown(wait=True, cancel_futures=True)


class DaskRunner(Runner):
    """A Dask distributed cluster, by ``Client`` or scheduler address; workers need ``transfer-sim``."""

    kind = "dask"

    def __init__(self, client: str | Client) -> None:
        try:
            import distributed
        except ImportError as err:  # pragma: no cover - dask is a dependency
            raise RuntimeError("running on Dask needs dask[distributed]: pip install 'dask[distributed]'") from err
        self._distributed = distributed
        self._own = isinstance(client, str)
        self.client = distributed.Client(client) if isinstance(client, str) else client
        try:
            self.workers = max(1, sum(self.client.nthreads().values()))
        except OSError as err:  # the cluster cannot say now (a closed or slow connection): run anyway
            warnings.warn(f"the Dask cluster did not report its workers ({type(err).__name__}: {err}); "
                          "counting one", RuntimeWarning, stacklevel=2)
            self.workers = 1

    @property
    def window(self) -> int:
        # Dask reschedules the calls of a worker that dies and blames a call that kills several
        # (KilledWorker), so nothing depends on the window: keep the cluster busy
        return max(4, 2 * self.workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> FutureLike:
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures: Iterable[FutureLike]) -> list[FutureLike]:
        fs = list(futures)
        if not fs:
            return []
        return list(self._distributed.wait(fs, return_when="FIRST_COMPLETED").done)

    def describe(self, err: BaseException) -> dict[str, str]:
        if type(err).__name__ == "KilledWorker":  # the call killed every worker that ran it
            died = WorkerDied(None, "Dask KilledWorker: every worker that ran this call died")
            summary = error_summary(died)
            summary["traceback"] = error_summary(err)["traceback"]
            return summary
        return error_summary(err)

    def completed(self, futures: Iterable[FutureLike]) -> Iterator[FutureLike]:
        return iter(self._distributed.as_completed(list(futures)))

    def cancel(self, futures: Iterable[FutureLike]) -> None:
        fs = list(futures)
        if fs:
            self.client.cancel(fs)

    def close(self) -> None:
        if self._own:
            self.client.close()


def _is_dask_client(obj: object) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def make_runner(executor: ExecutorSpec = "processes", workers: int | None = None) -> Runner:
    """A :class:`Runner` for ``executor``; a ``Runner`` is returned as is."""
    if isinstance(executor, Runner):
        return executor
    if executor is None or executor == "processes":
        if workers == 1:
            return SerialRunner()
        return FuturesRunner(None, workers)
    if executor == "serial":
        return SerialRunner()
    if isinstance(executor, str):
        if "://" in executor or ":" in executor:
            return DaskRunner(executor)
        raise ValueError(
            f"unknown executor {executor!r}; use 'processes', 'serial', a Dask scheduler address "
            "(tcp://host:8786) or a dask.distributed.Client"
        )
    if _is_dask_client(executor):
        return DaskRunner(executor)
    if hasattr(executor, "submit") and hasattr(executor, "shutdown"):
        return FuturesRunner(executor)
    raise ValueError(f"unknown executor {executor!r}")
