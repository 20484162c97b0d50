"""Experiments: sweeps (tidy frames, common random numbers, the resumable store, executors) and tuning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import model.experiments.sweeps as sweep_mod
from model.experiments import ExperimentError, SweepResult, SweepWarning, parse_values, run_sweep, sweep, tune
from model.scenario import ScenarioError

from helpers import AGENTS, TIMEOUT, VARY

TAR = "transfer_abandonment_rate"


@pytest.fixture(scope="module")
def reference(tiny) -> SweepResult:
    """The 2 x 2 x 3 sweep, serial, in memory: what every other way of running it must equal."""
    return run_sweep(tiny, VARY, 3, executor="serial", progress=False)


def counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, int, int]]:
    """Record (timeout, agents, replication) of every replication run in this process."""
    calls: list[tuple[float, int, int]] = []
    real = sweep_mod.run_replication

    def spy(scenario, seed, i, **kw):
        calls.append((scenario.services[0].transfer_timeout, scenario.group("billing").agents, i))
        return real(scenario, seed, i, **kw)

    monkeypatch.setattr(sweep_mod, "run_replication", spy)
    return calls


# -- the tidy frames -----------------------------------------------------------------------------
def test_sweep_returns_one_row_per_point_and_metric(tiny, reference: SweepResult) -> None:
    df = sweep(tiny, VARY, 3, executor="serial", progress=False)
    assert list(df.columns) == [TIMEOUT, AGENTS, "scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
    pd.testing.assert_frame_equal(df, reference.summary)
    points = df[[TIMEOUT, AGENTS]].drop_duplicates()
    assert [tuple(p) for p in points.itertuples(index=False)] == [(30, 1), (30, 3), (90, 1), (90, 3)]
    assert not df.duplicated([TIMEOUT, AGENTS, "scope", "key", "metric"]).any()
    assert (df["n"] <= 3).all() and (df.loc[df.metric == "arrivals", "n"] == 3).all()
    per_rep = reference.per_replication
    assert list(per_rep.columns) == [TIMEOUT, AGENTS, "replication", "scope", "key", "metric", "value"]
    assert sorted(per_rep.replication.unique()) == [0, 1, 2]
    m = reference.metric(TAR)
    assert list(m.columns) == [TIMEOUT, AGENTS, "mean", "ci_low", "ci_high", "n"] and len(m) == 4


def test_a_point_equals_a_plain_simulation_of_the_changed_scenario(tiny, reference: SweepResult) -> None:
    from model.sim import simulate

    res = simulate(tiny.with_changes({TIMEOUT: 90, AGENTS: 3}), replications=3, keep_events=False, timeline_step=None)
    m = reference.metric(TAR)
    row = m[(m[TIMEOUT] == 90) & (m[AGENTS] == 3)].iloc[0]
    assert res.metric(TAR) == pytest.approx((row["mean"], row["ci_low"], row["ci_high"]), nan_ok=True)


def test_a_scenario_file_sweeps_like_the_scenario_it_holds(tiny, tiny_file: Path) -> None:
    by_object = run_sweep(tiny, {AGENTS: [2]}, 1, executor="serial", progress=False)
    for given in (tiny_file, str(tiny_file)):
        by_path = run_sweep(given, {AGENTS: [2]}, 1, executor="serial", progress=False)
        pd.testing.assert_frame_equal(by_path.summary, by_object.summary)


@pytest.mark.parametrize("given", [None, 7, {"name": "tiny"}, b"tiny.toml"], ids=["none", "int", "dict", "bytes"])
def test_something_else_than_a_scenario_is_refused_before_anything_runs(given, monkeypatch, tmp_path: Path) -> None:
    calls = counting(monkeypatch)
    with pytest.raises(TypeError, match=f"a scenario must be a Scenario or the path .*got {type(given).__name__}"):
        run_sweep(given, {AGENTS: [1]}, 1, executor="serial", out=tmp_path / "out", progress=False)
    with pytest.raises(TypeError, match="a scenario must be a Scenario"):
        tune(given, TAR, 0.1, AGENTS, (1, 2), executor="serial", progress=False)
    assert calls == [] and not (tmp_path / "out").exists()


def test_a_missing_scenario_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="nope.toml: file not found"):
        run_sweep(tmp_path / "nope.toml", {AGENTS: [1]}, 1, executor="serial")


@pytest.mark.parametrize(
    "vary",
    [
        {"services.support.no_such_field": [1, 2]},
        {"groups.nobody.agents": [1]},
        {AGENTS: [2, -1]},  # the second value is invalid: still nothing runs
        {TIMEOUT: ["soon"]},
    ],
)
def test_bad_path_or_value_fails_before_anything_runs(tiny, tmp_path: Path, monkeypatch, vary) -> None:
    calls = counting(monkeypatch)
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as info:
        run_sweep(tiny, vary, 2, executor="serial", out=out, progress=False)
    assert list(vary)[0].split(".")[0] in str(info.value)
    assert calls == [] and not out.exists()


def test_empty_or_repeated_values_are_refused(tiny) -> None:
    with pytest.raises(ExperimentError, match="no values"):
        run_sweep(tiny, {AGENTS: []}, 2, executor="serial")
    with pytest.raises(ExperimentError, match="twice"):
        run_sweep(tiny, {AGENTS: [2, 2]}, 2, executor="serial")


def test_parse_values_lists_and_ranges() -> None:
    assert parse_values("30,45,60") == [30, 45, 60]
    assert parse_values("3..5") == [3, 4, 5]
    assert parse_values("30..90:30") == [30, 60, 90]
    assert parse_values("45s,1m") == ["45s", "1m"]
    assert parse_values("0.1,0.2") == [0.1, 0.2]


# -- common random numbers -----------------------------------------------------------------------
def test_common_random_numbers_shrink_the_variance_of_differences(tiny) -> None:
    """Replication i of every point sees the same customers: the difference between two timeouts
    is the effect of the timeout, not of the dice."""
    vary = {TIMEOUT: [30, 90]}

    def diffs(crn: bool) -> np.ndarray:
        r = run_sweep(tiny, vary, 20, executor="serial", progress=False, common_random_numbers=crn)
        pr = r.per_replication
        pr = pr[(pr.scope == "overall") & (pr.metric == TAR)].pivot(index="replication", columns=TIMEOUT, values="value")
        return (pr[90] - pr[30]).to_numpy()

    crn, independent = diffs(True), diffs(False)
    assert np.var(crn, ddof=1) < 0.5 * np.var(independent, ddof=1)
    assert crn.mean() < 0  # a longer timeout expires fewer transfers


# -- the store: resume, interruption, failures ---------------------------------------------------
def test_store_layout_and_resume_computes_only_missing_points(tiny, tmp_path: Path, monkeypatch, reference) -> None:
    out = tmp_path / "sweep"
    first = run_sweep(tiny, VARY, 3, executor="serial", out=out, progress=False)
    pd.testing.assert_frame_equal(first.summary, reference.summary)
    assert sorted(p.name for p in (out / "points").iterdir()) == [f"p000{i}.parquet" for i in range(4)]
    assert {"sweep.json", "summary.parquet", "summary.csv"} <= {p.name for p in out.iterdir()}
    assert not (out / "failures.json").exists()
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["arguments"]["vary"] == [[TIMEOUT, [30, 90]], [AGENTS, [1, 3]]] and len(meta["hash"]) == 64

    (out / "points" / "p0002.parquet").unlink()  # point (90, 1)
    calls = counting(monkeypatch)
    again = run_sweep(tiny, VARY, 3, executor="serial", out=out, progress=False)
    assert sorted(calls) == [(90.0, 1, 0), (90.0, 1, 1), (90.0, 1, 2)]
    pd.testing.assert_frame_equal(again.summary, first.summary)
    pd.testing.assert_frame_equal(again.per_replication, first.per_replication)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), first.summary)
    pd.testing.assert_frame_equal(SweepResult.from_dir(out).summary, first.summary)

    calls.clear()
    run_sweep(tiny, VARY, 3, executor="serial", out=out, progress=False)
    assert calls == []  # everything stored: nothing runs


def test_resume_with_other_arguments_is_a_clear_error(tiny, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(tiny, {AGENTS: [1, 2]}, 2, executor="serial", out=out, progress=False)
    with pytest.raises(ExperimentError, match="replications"):
        run_sweep(tiny, {AGENTS: [1, 2]}, 3, executor="serial", out=out, progress=False)
    with pytest.raises(ExperimentError, match="vary"):
        run_sweep(tiny, {AGENTS: [1, 3]}, 2, executor="serial", out=out, progress=False)


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_interrupted_sweep_resumes_to_the_uninterrupted_result(tiny, tmp_path: Path, reference, executor) -> None:
    out = tmp_path / "sweep"
    seen = []

    def ctrl_c_after_two(info):
        seen.append(info["point"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(tiny, VARY, 3, executor=executor, workers=2, out=out, progress=False, on_point=ctrl_c_after_two)
    stored = sorted(p.stem for p in (out / "points").glob("*.parquet"))
    assert len(stored) == 2 and not (out / "summary.parquet").exists()
    assert not list((out / "points").glob(".*"))  # no half-written file

    resumed = run_sweep(tiny, VARY, 3, executor=executor, workers=2, out=out, progress=False)
    pd.testing.assert_frame_equal(resumed.summary, reference.summary)
    pd.testing.assert_frame_equal(resumed.per_replication, reference.per_replication)


def test_a_failing_point_is_reported_with_its_parameters_and_the_others_are_kept(tiny, tmp_path, monkeypatch, reference):
    real = sweep_mod.run_replication

    def broken_at_90_1(scenario, seed, i, **kw):
        if scenario.services[0].transfer_timeout == 90 and scenario.group("billing").agents == 1:
            raise RuntimeError("engine exploded")
        return real(scenario, seed, i, **kw)

    monkeypatch.setattr(sweep_mod, "run_replication", broken_at_90_1)
    out = tmp_path / "sweep"
    with pytest.warns(SweepWarning, match="engine exploded"):
        res = run_sweep(tiny, VARY, 3, executor="serial", out=out, progress=False, on_error="record")
    assert [(f["point"], f["params"]) for f in res.failures] == [("p0002", {TIMEOUT: 90, AGENTS: 1})]
    assert "RuntimeError: engine exploded" in res.failures[0]["error"]
    stored = json.loads((out / "failures.json").read_text())
    assert stored[0]["params"] == {TIMEOUT: 90, AGENTS: 1} and "engine exploded" in stored[0]["error"]
    kept = res.summary[[TIMEOUT, AGENTS]].drop_duplicates()
    assert [tuple(p) for p in kept.itertuples(index=False)] == [(30, 1), (30, 3), (90, 3)]
    ref = reference.summary
    pd.testing.assert_frame_equal(
        res.summary, ref[~((ref[TIMEOUT] == 90) & (ref[AGENTS] == 1))].reset_index(drop=True)
    )

    monkeypatch.setattr(sweep_mod, "run_replication", real)  # fixed: a rerun computes the failed point
    fixed = run_sweep(tiny, VARY, 3, executor="serial", out=out, progress=False)
    assert fixed.failures == [] and not (out / "failures.json").exists()
    pd.testing.assert_frame_equal(fixed.summary, reference.summary)


# -- executors -----------------------------------------------------------------------------------
def test_process_pool_gives_the_serial_numbers(tiny, reference) -> None:
    res = run_sweep(tiny, VARY, 3, executor="processes", workers=2, progress=False)
    pd.testing.assert_frame_equal(res.summary, reference.summary)
    pd.testing.assert_frame_equal(res.per_replication, reference.per_replication)
    one = run_sweep(tiny, VARY, 3, executor="processes", workers=2, chunk_size=1, progress=False)
    pd.testing.assert_frame_equal(one.summary, reference.summary)


def test_dask_cluster_gives_the_serial_numbers(tiny, tmp_path: Path, reference) -> None:
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            res = run_sweep(tiny, VARY, 3, executor=client, out=tmp_path / "c", progress=False)
            pd.testing.assert_frame_equal(res.summary, reference.summary)
            pd.testing.assert_frame_equal(res.per_replication, reference.per_replication)
        # by address, as the CLI's --scheduler does
        res = run_sweep(tiny, VARY, 3, executor=cluster.scheduler_address, progress=False)
        pd.testing.assert_frame_equal(res.summary, reference.summary)


# -- tuning --------------------------------------------------------------------------------------
def test_tune_finds_the_smallest_staffing_that_meets_the_target(tiny) -> None:
    # the curve over every staffing level, by brute force (same seed and replications), for the
    # transfers to billing: the scope a tuning of billing's staffing derives when none is given
    curve = run_sweep(tiny, {AGENTS: list(range(1, 9))}, 4, executor="serial", progress=False).metric(TAR, "target:billing")
    high = curve.set_index(AGENTS)["ci_high"]
    target = float(high[3])
    assert high[2] > target  # so the answer is 3 (the curve is monotone: asserted below)
    expected = min(k for k, v in high.items() if v <= target)
    res = tune(tiny, TAR, target, AGENTS, (1, 8), replications=4, grid=3, executor="serial", progress=False)
    assert res.found and res.recommended == expected == 3
    assert (res.scope, res.key) == ("target", "billing") and "derived from groups.billing.agents" in res.scope_reason
    assert res.direction == "lower" and res.monotone
    # what the answer costs: billing's occupancy and agents on shift at the recommended setting
    assert res.chosen == 3 and res.hours == pytest.approx(1.0)
    assert res.agent_hours == {"frontline": pytest.approx(4.0), "billing": pytest.approx(3.0)}
    occ = res.occupancy["billing"]
    assert 0 < occ[1] <= occ[0] <= occ[2] <= 1
    ex = res.explored
    assert list(ex.columns) == [AGENTS, "mean", "ci_low", "ci_high", "n", "meets", "stage"]
    assert set(ex.stage) == {"grid", "bisect"} and list(ex[AGENTS]) == sorted(ex[AGENTS])
    for row in ex.itertuples(index=False):
        assert row.ci_high == pytest.approx(high[row[0]])  # common random numbers: the same figures
    assert "monotonically" in res.reason


def test_tune_says_none_when_the_target_is_out_of_reach(tiny) -> None:
    res = tune(tiny, TAR, 0.001, TIMEOUT, "10..120", replications=3, grid=4, executor="serial", progress=False)
    assert res.recommended is None and not res.found
    assert res.reason.startswith("no value in 10..120 meets") and len(res.explored) == 4
    # what comes closest: the explored setting with the smallest upper bound, and its cost
    best = res.explored.sort_values(["ci_high", TIMEOUT]).iloc[0]
    assert res.chosen == best[TIMEOUT] and set(res.occupancy) == {"frontline", "billing"}
    assert res.scope == "overall" and "not the staffing" in res.scope_reason
    assert res.to_dict()["chosen"] == res.chosen and res.to_dict()["scope_text"] == "overall"


def test_tune_higher_is_better_metric_and_scope(tiny) -> None:
    res = tune(tiny, "transfer_success_rate", 0.2, TIMEOUT, "5..120", scope="target:billing",
               replications=3, grid=4, executor="serial", progress=False)
    assert res.direction == "higher" and (res.scope, res.key) == ("target", "billing")
    # 120 s joins well over 20 % of transfers to billing: the target is within reach
    assert res.found and res.recommended is not None
    ex = res.explored.set_index(TIMEOUT)
    assert (ex["meets"] == (ex["ci_low"] >= 0.2)).all()  # "meets" is the lower bound against the target
    row = ex.loc[res.recommended]
    assert row["ci_low"] >= 0.2 and row["meets"]
    # bisected to whole seconds: the second just below the recommendation was tried and falls short
    assert res.recommended - 1 in ex.index and ex.loc[res.recommended - 1, "ci_low"] < 0.2
    assert res.recommended == min(v for v in ex.index if ex.loc[v, "ci_low"] >= 0.2)
    with pytest.raises(ExperimentError, match="unknown target"):
        tune(tiny, TAR, 0.1, TIMEOUT, "5..10", scope="target:nobody", executor="serial")
    with pytest.raises(ExperimentError, match="lower.*higher"):
        tune(tiny, "arrivals", 0.1, TIMEOUT, "5..10", executor="serial")
    with pytest.raises(ScenarioError):
        tune(tiny, TAR, 0.1, "services.support.nope", "5..10", executor="serial")


# -- the CLI -------------------------------------------------------------------------------------
def test_cli_sweep_json_and_resume(tiny_file: Path, tmp_path: Path, reference) -> None:
    from typer.testing import CliRunner

    from model.cli import app

    out = tmp_path / "cli"
    args = ["sweep", str(tiny_file), "--vary", f"{TIMEOUT}=30,90", "--vary", f"{AGENTS}=1,3",
            "--replications", "3", "--out", str(out), "--json", "--executor", "serial"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["points"] == 4 and data["failures"] == [] and data["vary"] == {TIMEOUT: [30, 90], AGENTS: [1, 3]}
    got = pd.DataFrame(data["summary"])
    assert list(got.columns) == list(reference.summary.columns) and len(got) == len(reference.summary)
    assert (out / "summary.parquet").exists()

    r = CliRunner().invoke(app, args[:-3] + ["--replications", "2"])  # same folder, other arguments
    assert r.exit_code == 2 and "another sweep" in r.output

    r = CliRunner().invoke(app, ["sweep", str(tiny_file), "--vary", "groups.nobody.agents=1,2",
                                 "--executor", "serial", "--out", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "nobody" in r.output and not (tmp_path / "bad").exists()


def test_cli_tune(tiny_file: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from model.cli import app

    base = ["tune", str(tiny_file), "--metric", TAR, "--param", AGENTS, "--range", "1..6",
            "--replications", "3", "--grid", "3", "--executor", "serial"]
    r = CliRunner().invoke(app, [*base, "--target", "0.9", "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert "recommended groups.billing.agents = 1" in r.stdout
    assert (tmp_path / "t" / "explored.parquet").exists() and (tmp_path / "t" / "explored.csv").exists()
    r = CliRunner().invoke(app, [*base, "--target", "0.0001", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["recommended"] is None and data["reason"].startswith("no value") and len(data["explored"]) == 3
    r = CliRunner().invoke(app, [*base, "--target", "0.1", "--scope", "nowhere"])
    assert r.exit_code == 2 and "scope" in r.output
