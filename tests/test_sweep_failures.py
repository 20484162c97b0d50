"""Sweeps survive a failing point: whatever a point raises (an error of ours with a three-argument
constructor, an exception that cannot be pickled) or a worker that dies (os._exit, SIGKILL), the
failure is recorded for that point with its changes and a one-line reason, the other points
complete, the store and sweep.json say so, a rerun retries only the failed points, and the API
raises SweepFailed with the partial result unless on_error="record".

The failing point is made by ``chunk_fn``: a module-level function of this module (workers import it
by name: pytest puts ``tests/`` on ``sys.path``, and forked or spawned workers inherit it) that
fails for one point, chosen by its scenario values, and runs the real chunk for the others.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import warnings
from pathlib import Path

import pandas as pd
import pytest

from model.errors import TransferSimError
from model.experiments import (
    SweepFailed,
    SweepResult,
    SweepWarning,
    TuneFailed,
    run_sweep,
    sweep,
    tune,
)
from model.experiments.sweeps import run_chunk
from model.lifecycle import EventNotAllowed

from helpers import AGENTS, TIMEOUT, VARY  # the tiny centre of the sweep tests (fixture ``tiny``)

BAD = ("p0002", {TIMEOUT: 90, AGENTS: 1})
ENA = "EventNotAllowed: event 'offer' is not allowed in state 'abandoned_transfer': x"


# -- the failing chunks (module level: workers import them from this module) ----------------------
def _point(scenario) -> tuple[float, int]:
    return (scenario.services[0].transfer_timeout, scenario.group("billing").agents)


class Unpicklable(Exception):
    """Holds a lock: pickling it fails, so it can never cross a process boundary as itself."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def ours_at_90_1(scenario, seed, reps):
    if _point(scenario) == (90, 1):
        raise EventNotAllowed("offer", "abandoned_transfer", "x")
    return run_chunk(scenario, seed, reps)


def unpicklable_at_90_1(scenario, seed, reps):
    if _point(scenario) == (90, 1):
        raise Unpicklable("a lock inside")
    return run_chunk(scenario, seed, reps)


def exits_at_90_1(scenario, seed, reps):
    if _point(scenario) == (90, 1):
        os._exit(3)
    return run_chunk(scenario, seed, reps)


def killed_at_90_1(scenario, seed, reps):
    if _point(scenario) == (90, 1):
        os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(scenario, seed, reps)


def three_ways(scenario, seed, reps):
    """p0001 raises ours, p0002 kills its worker, p0003 raises an unpicklable exception."""
    p = _point(scenario)
    if p == (30, 3):
        raise EventNotAllowed("offer", "abandoned_transfer", "x")
    if p == (90, 1):
        os._exit(3)
    if p == (90, 3):
        raise Unpicklable("a lock inside")
    return run_chunk(scenario, seed, reps)


def fails_at_30_1(scenario, seed, reps):
    if _point(scenario) == (30, 1):
        raise RuntimeError("at 30, 1")
    return run_chunk(scenario, seed, reps)


def fails_at_agents_5(scenario, seed, reps):
    if scenario.group("billing").agents == 5:
        raise EventNotAllowed("offer", "abandoned_transfer", "at five agents")
    return run_chunk(scenario, seed, reps)


# -- fixtures (``tiny``: tests/conftest.py) --------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tiny) -> SweepResult:
    return run_sweep(tiny, VARY, 2, executor="serial", progress=False)


def without(frame: pd.DataFrame, *points: tuple[float, int]) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for t, a in points:
        keep &= ~((frame[TIMEOUT] == t) & (frame[AGENTS] == a))
    return frame[keep].reset_index(drop=True)


def record(tiny, executor, chunk_fn, out=None, workers=2, **kw) -> SweepResult:
    with pytest.warns(SweepWarning):
        return run_sweep(tiny, VARY, 2, executor=executor, workers=workers, out=out, progress=False,
                         chunk_fn=chunk_fn, on_error="record", **kw)


# -- a failure crosses the process boundary intact and poisons nothing ----------------------------
def test_our_error_with_a_three_argument_constructor_pickles_with_its_message() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(EventNotAllowed("offer", "abandoned_transfer", "x")))
    assert isinstance(err, TransferSimError) and (err.event, err.state, err.reason) == ("offer", "abandoned_transfer", "x")
    assert str(err) == ENA.split(": ", 1)[1]


@pytest.mark.parametrize("executor", ["serial", "processes"])
@pytest.mark.parametrize("chunk_fn, error", [
    (ours_at_90_1, ENA),
    (unpicklable_at_90_1, "Unpicklable: a lock inside"),
], ids=["ours-3-args", "unpicklable"])
def test_a_raising_point_is_recorded_and_the_others_complete(tiny, reference, executor, chunk_fn, error) -> None:
    res = record(tiny, executor, chunk_fn, chunk_size=1)  # two work items per point: one fails, one is dropped
    assert [(f["point"], f["params"]) for f in res.failures] == [BAD]
    assert res.failures[0]["error"] == error
    assert "Traceback" in res.failures[0]["traceback"] and chunk_fn.__name__ in res.failures[0]["traceback"]
    pd.testing.assert_frame_equal(res.summary, without(reference.summary, (90, 1)))
    pd.testing.assert_frame_equal(res.per_replication, without(reference.per_replication, (90, 1)))


@pytest.mark.parametrize("chunk_fn, died", [
    (exits_at_90_1, "WorkerDied: worker process died (exit code 3)"),
    (killed_at_90_1, "WorkerDied: worker process died (exit code -9, killed by SIGKILL)"),
], ids=["os._exit(3)", "SIGKILL"])
def test_a_worker_that_dies_is_recorded_for_its_point_and_the_pool_is_replaced(tiny, reference, chunk_fn, died) -> None:
    res = record(tiny, "processes", chunk_fn)
    assert [(f["point"], f["params"], f["error"]) for f in res.failures] == [(*BAD, died)]
    pd.testing.assert_frame_equal(res.summary, without(reference.summary, (90, 1)))
    pd.testing.assert_frame_equal(res.per_replication, without(reference.per_replication, (90, 1)))


def test_three_kinds_of_failure_in_one_pool(tiny, reference, tmp_path: Path) -> None:
    seen = []
    res = record(tiny, "processes", three_ways, out=tmp_path / "s", on_point=seen.append)
    assert [(f["point"], f["error"]) for f in res.failures] == [
        ("p0001", ENA),
        ("p0002", "WorkerDied: worker process died (exit code 3)"),
        ("p0003", "Unpicklable: a lock inside"),
    ]
    pd.testing.assert_frame_equal(res.summary, without(reference.summary, (30, 3), (90, 1), (90, 3)))
    assert sorted(i["point"] for i in seen) == ["p0000", "p0001", "p0002", "p0003"]
    assert sorted(i["point"] for i in seen if "error" in i) == ["p0001", "p0002", "p0003"]


def test_dask_records_failures_like_the_process_pool(tiny, reference) -> None:
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            for chunk_fn, error in [(ours_at_90_1, ENA), (unpicklable_at_90_1, "Unpicklable: a lock inside")]:
                res = record(tiny, client, chunk_fn)
                assert [(f["point"], f["params"], f["error"]) for f in res.failures] == [(*BAD, error)]
                pd.testing.assert_frame_equal(res.summary, without(reference.summary, (90, 1)))


# -- the store, sweep.json and resuming ---------------------------------------------------------
def test_the_store_and_sweep_json_record_failures_and_a_rerun_retries_only_them(tiny, reference, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "sweep"
    res = record(tiny, "processes", exits_at_90_1, out=out)
    assert sorted(p.stem for p in (out / "points").glob("*.parquet")) == ["p0000", "p0001", "p0003"]
    stored = json.loads((out / "failures.json").read_text())
    assert [(f["point"], f["params"], f["error"]) for f in stored] == [(*BAD, "WorkerDied: worker process died (exit code 3)")]
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["points"] == 4
    assert meta["failed"] == [{"point": BAD[0], "params": BAD[1], "error": "WorkerDied: worker process died (exit code 3)"}]
    assert SweepResult.from_dir(out).failures == stored
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), res.summary)

    # still broken: the rerun runs the failed point only, and it stays recorded
    ran: list[str] = []
    again = record(tiny, "serial", ours_at_90_1, out=out, on_point=lambda i: ran.append(i["point"]))
    assert ran == ["p0002"]
    assert [(f["point"], f["error"]) for f in again.failures] == [("p0002", ENA)]
    assert json.loads((out / "sweep.json").read_text())["failed"][0]["error"] == ENA

    # fixed: the rerun computes it, and the failures are gone from the store and sweep.json
    ran.clear()
    fixed = run_sweep(tiny, VARY, 2, executor="serial", out=out, progress=False, on_point=lambda i: ran.append(i["point"]))
    assert ran == ["p0002"] and fixed.failures == []
    assert not (out / "failures.json").exists()
    assert json.loads((out / "sweep.json").read_text())["failed"] == []
    pd.testing.assert_frame_equal(fixed.summary, reference.summary)
    pd.testing.assert_frame_equal(fixed.per_replication, reference.per_replication)


def test_an_interrupted_rerun_keeps_the_failures_it_has_not_retried(tiny, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    with pytest.warns(SweepWarning):
        run_sweep(tiny, VARY, 2, executor="serial", out=out, progress=False, chunk_fn=ours_at_90_1, on_error="record")

    def stop(info):
        raise KeyboardInterrupt

    # a rerun where p0000 (recomputed) fails now and is interrupted before it reaches p0002: the
    # store still says why p0002 is missing, next to p0000's new failure
    (out / "points" / "p0000.parquet").unlink()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tiny, VARY, 2, executor="serial", out=out, progress=False, on_point=stop, chunk_fn=fails_at_30_1)
    assert [(f["point"], f["error"]) for f in json.loads((out / "failures.json").read_text())] == [
        ("p0000", "RuntimeError: at 30, 1"), ("p0002", ENA)]
    assert [f["point"] for f in json.loads((out / "sweep.json").read_text())["failed"]] == ["p0000", "p0002"]


# -- the Python API: raise by default, with the partial result ------------------------------------
@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_sweep_raises_by_default_with_the_partial_result(tiny, reference, executor, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SweepWarning)  # raising is the report: no warning as well
        with pytest.raises(SweepFailed) as info:
            sweep(tiny, VARY, 2, executor=executor, workers=2, progress=False, chunk_fn=ours_at_90_1,
                  out=tmp_path / "s")
    err = info.value
    assert isinstance(err, TransferSimError)
    assert str(err).startswith(f"1 of 4 sweep points failed: p0002 {BAD[1]}: {ENA}")
    assert "rerun" in str(err)
    assert [(f["point"], f["params"]) for f in err.failures] == [BAD] and err.points == 4
    pd.testing.assert_frame_equal(err.result.summary, without(reference.summary, (90, 1)))
    assert err.result.failures == err.failures
    assert sorted(p.stem for p in (tmp_path / "s" / "points").glob("*.parquet")) == ["p0000", "p0001", "p0003"]


def test_record_returns_the_result_with_failures_and_warns(tiny, reference) -> None:
    with pytest.warns(SweepWarning, match="1 of 4 sweep points failed"):
        res = sweep(tiny, VARY, 2, executor="serial", progress=False, chunk_fn=ours_at_90_1,
                    on_error="record", return_replications=True)
    assert isinstance(res, SweepResult) and [f["point"] for f in res.failures] == ["p0002"]
    assert res.to_dict()["failures"] == [{k: v for k, v in res.failures[0].items() if k != "traceback"}]
    with pytest.raises(Exception, match="on_error"):
        run_sweep(tiny, VARY, 2, executor="serial", on_error="ignore")


def test_sweep_failed_pickles_with_its_result(tiny) -> None:
    import pickle

    with pytest.raises(SweepFailed) as info:
        run_sweep(tiny, VARY, 2, executor="serial", progress=False, chunk_fn=ours_at_90_1)
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value) and back.result.failures == info.value.failures


# -- tuning names the setting that failed --------------------------------------------------------
@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_tune_names_the_failed_setting(tiny, executor) -> None:
    with pytest.raises(TuneFailed) as info:
        tune(tiny, "transfer_abandonment_rate", 0.05, AGENTS, (1, 9), replications=2, grid=3,
             executor=executor, workers=2, progress=False, chunk_fn=fails_at_agents_5)
    err = info.value
    assert isinstance(err, TransferSimError) and err.param == AGENTS and err.values == [5]
    assert f"{AGENTS} = 5: EventNotAllowed: event 'offer' is not allowed in state 'abandoned_transfer': at five agents" in str(err)


# -- nothing is swallowed on the way: the executors' own failures surface ---------------------------
class Broken(Exception):
    """Its str() raises: what the failure record says must still name both errors."""

    def __str__(self) -> str:
        raise RuntimeError("str is broken")


def broken_str_at_90_1(scenario, seed, reps):
    if _point(scenario) == (90, 1):
        raise Broken("the real reason")
    return run_chunk(scenario, seed, reps)


def test_an_error_whose_str_fails_is_recorded_with_both_errors(tiny, reference) -> None:
    res = record(tiny, "serial", broken_str_at_90_1)
    [failure] = res.failures
    assert failure["point"] == BAD[0]
    assert failure["error"] == "Broken: ('the real reason',) (its str() raised RuntimeError)"
    pd.testing.assert_frame_equal(res.summary, without(reference.summary, (90, 1)))


class _Interrupted:
    """A future whose wait is interrupted by Ctrl-C."""

    def exception(self, timeout=None):
        raise KeyboardInterrupt

    def result(self, timeout=None):
        raise KeyboardInterrupt

    def done(self) -> bool:
        return False


class _Pool:
    def submit(self, fn, *args):
        return _Interrupted()


def test_ctrl_c_while_running_a_suspect_call_alone_stops_the_caller() -> None:
    from model.experiments.executors import FuturesRunner

    runner = FuturesRunner(None, 1)
    try:
        runner._alone = _Pool()  # the one-process pool run_alone uses
        with pytest.raises(KeyboardInterrupt):
            runner.run_alone(run_chunk, None, 0, (0,))
    finally:
        runner._alone = None
        runner.close()


def test_a_call_failing_alone_is_held_by_its_future_not_raised(tiny) -> None:
    from model.experiments.executors import FuturesRunner

    with FuturesRunner(None, 1) as runner:
        fut = runner.run_alone(ours_at_90_1, tiny.with_changes({TIMEOUT: 90, AGENTS: 1}), 1, (0,))
        assert fut.done()
        with pytest.raises(EventNotAllowed, match="'offer'"):
            fut.result()


class _Unanswerable:
    def done(self) -> bool:
        raise RuntimeError("lost the connection")


def test_a_future_that_cannot_say_whether_it_is_done_is_an_error() -> None:
    from model.experiments.executors import Runner

    class OneByOne(Runner):
        def completed(self, futures):
            yield from futures

    first = _Interrupted()
    with pytest.raises(RuntimeError, match="lost the connection"):
        OneByOne().wait([first, _Unanswerable()])


class _Client:
    """Enough of a dask.distributed.Client for DaskRunner's constructor."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def nthreads(self):
        raise self.error


def test_a_dask_cluster_that_cannot_count_its_workers_warns(monkeypatch) -> None:
    pytest.importorskip("distributed")
    from model.experiments.executors import DaskRunner

    with pytest.warns(RuntimeWarning, match="did not report its workers .OSError: connection closed"):
        runner = DaskRunner(_Client(OSError("connection closed")))
    assert runner.workers == 1
    with pytest.raises(TypeError, match="not a client"):
        DaskRunner(_Client(TypeError("not a client")))  # a mistake, not a cluster that is slow to answer


class _Exits:
    def done(self) -> bool:
        return True

    def result(self):
        raise SystemExit(3)


def test_sys_exit_while_collecting_a_result_stops_the_sweep(tiny) -> None:
    """Only a call's own failures (and a lost worker) belong to its point; sys.exit in the parent is
    the program stopping, never a point's failure."""
    from model.experiments.executors import Runner

    class Exiting(Runner):
        def submit(self, fn, *args):
            return _Exits()

        def wait(self, futures):
            return list(futures)

    with pytest.raises(SystemExit):
        run_sweep(tiny, VARY, 1, executor=Exiting(), progress=False)
