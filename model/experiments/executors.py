"""Where the work runs: ``"processes"`` (every core), ``"serial"``, or a Dask cluster.

Why: a sweep only needs *submit a call* and *take results as they finish*; this module gives
the three back ends that one shape, so the sweep loop is written once.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["Runner", "make_runner", "ExecutorSpec"]

#: ``"processes"`` | ``"serial"`` | a Dask scheduler address (``"tcp://host:8786"``) |
#: a ``dask.distributed.Client`` | a ``concurrent.futures.Executor`` (used as given)
ExecutorSpec = Any


def _ignore_sigint() -> None:  # pragma: no cover - runs in worker processes
    # Ctrl-C goes to the whole process group; only the parent should react (and stop the pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Done:
    """A finished serial call, shaped like a future."""

    __slots__ = ("_fn", "_args", "_value", "_error", "_ran")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._fn, self._args, self._ran = fn, args, False
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._fn(*self._args)
        except Exception as err:  # reported per point, like a remote failure
            self._error = err
        self._ran = True

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class Runner:
    """Submit calls, then iterate over them as they finish (``completed``); ``close`` when done."""

    kind = "base"
    workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError

    def completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        raise NotImplementedError

    def cancel(self, futures: Iterable[Any]) -> None:
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

    def completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        for f in futures:
            f.run()
            yield f


class FuturesRunner(Runner):
    """A ``concurrent.futures`` executor (a process pool on every core by default)."""

    def __init__(self, executor: Any = None, workers: int | None = None) -> None:
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

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.executor.submit(fn, *args)

    def completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return self._cf.as_completed(list(futures))

    def cancel(self, futures: Iterable[Any]) -> None:
        for f in futures:
            f.cancel()

    def close(self) -> None:
        if self._own:
            self.executor.shutdown(wait=True, cancel_futures=True)


class DaskRunner(Runner):
    """A Dask distributed cluster, by ``Client`` or scheduler address; workers need ``transfer-sim``."""

    kind = "dask"

    def __init__(self, client: Any) -> None:
        try:
            import distributed
        except ImportError as err:  # pragma: no cover - dask is a dependency
            raise RuntimeError("running on Dask needs dask[distributed]: pip install 'dask[distributed]'") from err
        self._distributed = distributed
        self._own = isinstance(client, str)
        self.client = distributed.Client(client) if isinstance(client, str) else client
        try:
            self.workers = max(1, sum(self.client.nthreads().values()))
        except Exception:  # pragma: no cover - informational only
            self.workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return iter(self._distributed.as_completed(list(futures)))

    def cancel(self, futures: Iterable[Any]) -> None:
        fs = list(futures)
        if fs:
            self.client.cancel(fs)

    def close(self) -> None:
        if self._own:
            self.client.close()


def _is_dask_client(obj: Any) -> bool:
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
