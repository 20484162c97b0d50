"""``model.compare``: two scenarios on common random numbers, B - A with its paired interval.

The pairing is what makes the comparison sharp: replication i of both scenarios sees the same
customers, so the per-replication differences vary far less than two independent runs do.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import typer
from click.testing import CliRunner
from scipy import stats

import model
from model.cli import app
from model.comparison import ComparisonFailed, check_scope, welch_interval
from model.experiments import ExperimentError
from model.results.scopes import ScopeError, UnknownScope

from helpers import AGENTS, TIMEOUT, TINY, write_file

KEY = ["transfer_abandonment_rate", "transfer_success_rate", "transfer_expired", "abandoned_transfer"]


@pytest.fixture(scope="module")
def timeouts(request):
    tiny = model.scenario_from_dict(__import__("tomllib").loads(TINY))
    a, b = tiny, tiny.with_changes({TIMEOUT: 90})
    return a, b, model.compare(a, b, 10, executor="serial", progress=False)


def test_the_paired_interval_is_narrower_than_the_unpaired_one(timeouts):
    _, _, c = timeouts
    for name in KEY:
        d = c.metric(name)
        paired, unpaired = d.ci_high - d.ci_low, d.unpaired_ci_high - d.unpaired_ci_low
        assert d.n == 10 and 0 < paired < unpaired, name
        if name.endswith("_rate"):  # the headline rates: the same customers make them move together
            assert paired < 0.5 * unpaired, name


def test_the_intervals_are_the_t_intervals_scipy_gives(timeouts):
    _, _, c = timeouts
    pr = c.per_replication
    rows = pr[(pr.scope == "overall") & (pr.metric == "transfer_abandonment_rate")].sort_values("replication")
    a, b = rows["a"].to_numpy(), rows["b"].to_numpy()
    d = c.metric("transfer_abandonment_rate")
    paired = stats.ttest_rel(b, a).confidence_interval(0.95)
    welch = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (d.ci_low, d.ci_high) == pytest.approx((paired.low, paired.high))
    assert (d.unpaired_ci_low, d.unpaired_ci_high) == pytest.approx((welch.low, welch.high))
    assert d.difference == pytest.approx(b.mean() - a.mean()) and d.a == pytest.approx(a.mean())


def test_the_table_is_tidy_and_differences_are_not_clipped(timeouts):
    _, _, c = timeouts
    assert list(c.table.columns) == ["scope", "key", "metric", "a", "b", "difference", "ci_low", "ci_high",
                                     "unpaired_ci_low", "unpaired_ci_high", "n"]
    assert set(c.table.scope) == {"overall", "service", "target", "group"}
    assert (c.table.ci_low < 0).any()  # a negative bound is kept: differences may be negative
    assert c.metric("transfer_expired").clear and c.metric("transfer_expired").difference < 0


def test_a_scenario_compared_with_itself_differs_by_exactly_zero(tiny):
    c = model.compare(tiny, tiny, 5, executor="serial", progress=False)
    t = c.table.dropna(subset=["difference"])
    assert len(t) > 50 and (t.n == 5).all()
    assert (t.difference == 0).all() and (t.ci_low == 0).all() and (t.ci_high == 0).all()
    assert c.clear().empty and not c.metric("transfer_abandonment_rate").clear


def test_more_agents_give_lower_abandonment_clearly(tiny):
    c = model.compare(tiny, tiny.with_changes({AGENTS: 4}), 10, executor="serial", progress=False)
    d = c.metric("transfer_abandonment_rate", "target:billing")
    assert d.difference < 0 and d.ci_high < 0 and d.clear
    assert c.metric("staffed_agents", "group:billing").difference == 2.0


def test_the_same_arguments_give_the_same_comparison_on_any_executor(tiny):
    b = tiny.with_changes({TIMEOUT: 90})
    serial = model.compare(tiny, b, 4, executor="serial", progress=False)
    again = model.compare(tiny, b, 4, executor="serial", progress=False)
    pooled = model.compare(tiny, b, 4, executor="processes", workers=2, progress=False)
    pd.testing.assert_frame_equal(serial.table, again.table)
    pd.testing.assert_frame_equal(serial.table, pooled.table)
    assert serial.seed == tiny.simulation.seed


def test_paths_and_a_seed_are_taken(tiny_file, tiny):
    c = model.compare(tiny_file, str(tiny_file), 2, seed=11, executor="serial", progress=False)
    assert c.seed == 11 and c.a == c.b == tiny.name and c.replications == 2


def test_per_interval_differences(tiny):
    c = model.compare(tiny, tiny.with_changes({TIMEOUT: 90}), 6, by="30m", executor="serial", progress=False)
    iv = c.by_interval("transfer_abandonment_rate")
    assert list(iv.index) == ["00:00", "00:30"] and (iv.n == 6).all()
    assert list(c.intervals.columns[:4]) == ["interval", "scope", "key", "metric"]
    assert c.by_interval("staffed_agents", "group:billing")["difference"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="no intervals"):
        model.compare(tiny, tiny, 2, executor="serial", progress=False).by_interval("arrivals")


def test_scopes_in_only_one_scenario_are_left_out_and_named(tiny):
    extra = tiny.to_dict()
    extra["groups"].append({"name": "vip", "agents": 1, "handle_time": {"kind": "exponential", "mean": 60.0}})
    b = model.scenario_from_dict(extra)
    c = model.compare(tiny, b, 2, executor="serial", progress=False)
    assert c.unmatched == ["group:vip (only in b)", "target:vip (only in b)"]
    assert any("group:vip (only in b)" in n for n in c.notes)
    assert "vip" not in set(c.table.key)
    with pytest.raises(UnknownScope, match="group:vip is only in b"):
        c.metric("agent_occupancy", "group:vip")
    with pytest.raises(UnknownScope, match="group:vip is only in b"):
        check_scope("group:vip", tiny, b)
    with pytest.raises(UnknownScope, match="no scope group:nosuch in either scenario; both have: overall"):
        check_scope("group:nosuch", tiny, b)
    with pytest.raises(UnknownScope, match="its scopes: overall"):
        c.metric("arrivals", "service:nosuch")
    with pytest.raises(ScopeError):
        c.metric("arrivals", "bogus")
    with pytest.raises(KeyError, match="no metric 'nosuch'"):
        c.metric("nosuch")


def test_one_replication_gives_nan_intervals_and_says_why(tiny):
    c = model.compare(tiny, tiny.with_changes({TIMEOUT: 90}), 1, executor="serial", progress=False)
    d = c.metric("transfer_abandonment_rate")
    assert d.n == 1 and not math.isnan(d.difference)
    assert all(math.isnan(x) for x in (d.ci_low, d.ci_high, d.unpaired_ci_low, d.unpaired_ci_high))
    assert any("with 1 replication" in n for n in c.notes) and not d.clear


@pytest.mark.parametrize("kwargs, words", [
    ({"replications": 0}, "replications must be >= 1"),
    ({"replications": -3}, "replications must be >= 1"),
    ({"replications": True}, "replications must be a whole number"),
    ({"replications": 2.5}, "replications must be a whole number"),
    ({"seed": "x"}, "seed must be a whole number"),
    ({"seed": -1}, "seed must be >= 0"),
    ({"level": 1.5}, "level must be a number between 0 and 1"),
    ({"by": "7m"}, "by: an interval must be"),
])
def test_bad_arguments_are_refused_before_anything_runs(tiny, kwargs, words):
    with pytest.raises(ExperimentError, match=words):
        model.compare(tiny, tiny, **{"replications": 2, **kwargs}, executor="serial", progress=False)


def test_a_replication_that_fails_names_the_scenario(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr("model.comparison.run_replication", broken)
    with pytest.raises(ComparisonFailed, match=r"scenario a \(tiny\) failed in replications 0\.\.0: RuntimeError: engine exploded"):
        model.compare(tiny, tiny, 2, executor="serial", progress=False)


def test_welch_interval_edges():
    assert all(math.isnan(x) for x in welch_interval(np.array([1.0]), np.array([1.0, 2.0]), 0.95))
    assert welch_interval(np.array([1.0, 1.0]), np.array([3.0, 3.0]), 0.95) == (2.0, 2.0)


# -- the command ----------------------------------------------------------------------------------------

def _cli(*args: str):
    return CliRunner().invoke(typer.main.get_command(app), ["compare", *args])


def test_the_command_prints_a_plain_words_table_and_which_differences_are_clear(tiny_file, tmp_path):
    b = write_file(tmp_path, TINY.replace("agents = 2", "agents = 4"), "more.toml")
    res = _cli(str(tiny_file), str(b), "-r", "6", "--scope", "overall", "--scope", "target:billing",
               "--executor", "serial")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "6 replications of each from seed 7, on common random numbers" in out
    assert "B - A [paired 95 % CI]" in out and "target:billing" in out
    assert "transfer abandonment (expired or abandoned)" in out and " pp [" in out and " s [" in out
    assert "Clear differences in B (the 95 % interval excludes 0): " in out
    assert "target:billing: transfer abandonment (expired or abandoned) lower" in out
    assert "unpaired (independent runs, Welch) it would be" in out


def test_the_command_prints_json(tiny_file):
    res = _cli(str(tiny_file), str(tiny_file), "-r", "2", "--json", "--executor", "serial")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["replications"] == 2 and data["unmatched"] == [] and data["table"][0]["scope"] == "service"
    assert all(r["difference"] in (0.0, None) for r in data["table"])


@pytest.mark.parametrize("args, words", [
    (["-r", "0"], "Invalid value for '--replications'"),
    (["--scope", "bogus"], "--scope: scope must be overall"),
    (["--scope", "group:nosuch"], "--scope: no scope group:nosuch in either scenario"),
    (["-m", "nosuch"], "--metric 'nosuch' is not a metric"),
    (["--executor", "threads"], "--executor must be"),
])
def test_bad_input_exits_2_with_one_error_line(tiny_file, args, words):
    res = _cli(str(tiny_file), str(tiny_file), *args)
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], res.output


def test_a_missing_or_bad_file_exits_2(tiny_file, tmp_path):
    bad = write_file(tmp_path, TINY.replace("agents = 2", "agents = -2"), "bad.toml")
    for other in (tmp_path / "nosuch.toml", bad):
        res = _cli(str(tiny_file), str(other))
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.output
