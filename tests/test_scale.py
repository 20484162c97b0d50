"""Demand scaling: ``services.NAME.arrivals.scale`` multiplies the service's arrival rate.

The scale is applied where the rates are read (``model.scenario.arrivals.Arrivals``), so the engine,
the analytic estimate and the work bounds all see it; the random draws stay the same (scale 1 is
bit-identical, scale 1.2 compresses the same gaps), which keeps common random numbers across scales.
"""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
import typer

from helpers import TINY, write_file
from model import ScenarioError, confidence_interval, load_scenario, simulate, sweep
from model.cli import app
from model.estimate import estimate
from model.experiments import parse_vary
from model.scenario import scenario_from_dict
from model.workload import estimate_work

SCALE = "services.support.arrivals.scale"
PROFILE = "services.support.arrivals.profile"


def _arrivals(result) -> list[float]:
    pr = result.per_replication
    return pr[(pr.scope == "overall") & (pr.metric == "arrivals")].sort_values("replication")["value"].tolist()


@pytest.mark.parametrize("arrivals", [
    {"kind": "poisson", "rate_per_hour": 150},
    {"kind": "poisson", "profile": [["00:00", 100], ["00:30", 200]]},
])
def test_scale_1_2_gives_1_2_times_the_arrivals(tiny, arrivals):
    base = tiny.with_changes({"services.support.arrivals": arrivals})
    more = base.with_changes({SCALE: 1.2})
    a = _arrivals(simulate(base, replications=20, keep_events=False))
    b = _arrivals(simulate(more, replications=20, keep_events=False))
    mean, lo, hi, _ = confidence_interval([y / x for x, y in zip(a, b)])
    assert lo <= 1.2 <= hi and abs(mean - 1.2) < 0.05
    expected = more.services[0].arrivals.expected_arrivals(0.0, more.simulation.horizon)
    mean, lo, hi, _ = confidence_interval(b)
    assert lo <= expected <= hi


def test_scale_of_a_constant_rate_shortens_the_gap_exactly(tiny):
    sc = tiny.with_changes({"services.support.arrivals": {"kind": "constant", "rate_per_hour": 60, "scale": 1.5}})
    assert sc.services[0].arrivals.interarrival == 40.0
    ev = simulate(sc, replications=1).events
    times = ev[ev.event == "arrive"].time.tolist()
    assert times[:4] == [40.0, 80.0, 120.0, 160.0]


def test_scale_1_leaves_the_event_log_identical(tiny, tmp_path):
    plain = simulate(tiny, replications=2)
    explicit = simulate(tiny.with_changes({SCALE: 1.0}), replications=2)
    as_int = simulate(load_scenario(write_file(tmp_path, TINY.replace(
        "rate_per_hour = 150 }", "rate_per_hour = 150, scale = 1 }"), "one.toml")), replications=2)
    for other in (explicit, as_int):
        assert plain.events.equals(other.events)
        assert plain.per_replication.equals(other.per_replication)


def test_scale_1_is_left_out_of_the_scenario_data(tiny):
    """Scale 1 is the unset option: the data (and the hash naming a stored sweep) is unchanged."""
    assert "scale" not in tiny.to_dict()["services"][0]["arrivals"]
    assert "scale" not in tiny.with_changes({SCALE: 1}).to_dict()["services"][0]["arrivals"]
    scaled = tiny.with_changes({SCALE: 1.2})
    assert scaled.to_dict()["services"][0]["arrivals"]["scale"] == 1.2
    assert scenario_from_dict(scaled.to_dict()).services[0].arrivals.scale == 1.2


def test_the_estimate_and_the_work_bounds_see_the_scale(tiny):
    more = tiny.with_changes({SCALE: 1.2})
    a, b = estimate(tiny), estimate(more)
    entry = lambda df: df[df.group == "frontline"]["entry_per_hour"].iloc[0]  # noqa: E731
    assert entry(b) == pytest.approx(1.2 * entry(a)) and entry(a) == pytest.approx(150.0)
    assert b["transfers_in_per_hour"].sum() > a["transfers_in_per_hour"].sum()
    assert estimate_work(more, 1).events == pytest.approx(1.2 * estimate_work(tiny, 1).events, rel=0.01)


def test_the_estimate_per_interval_scales_every_profile_entry(tiny):
    profiled = tiny.with_changes({"services.support.arrivals": {"profile": [["00:00", 100], ["00:30", 200]]}})
    a = estimate(profiled, by="30m")
    b = estimate(profiled.with_changes({SCALE: 0.5}), by="30m")
    rows = lambda df: df[df.group == "frontline"].set_index("interval")["entry_per_hour"]  # noqa: E731
    assert rows(a).to_dict() == pytest.approx({"00:00": 100.0, "00:30": 200.0})
    assert rows(b).to_dict() == pytest.approx({"00:00": 50.0, "00:30": 100.0})


def test_scale_can_be_swept(tiny):
    vary = parse_vary([f"{SCALE}=1,1.1,1.2"])
    assert vary == {SCALE: [1, 1.1, 1.2]}
    df = sweep(tiny, vary, replications=2, executor="serial", progress=False)
    means = df[(df.scope == "overall") & (df.metric == "arrivals")].set_index(SCALE)["mean"]
    assert means[1.0] < means[1.1] < means[1.2]


BAD = [
    (0, "must be > 0; got 0; allowed: a number > 0"),
    (-1.2, "must be > 0; got -1.2; allowed: a number > 0"),
    ("1.2", "must be a number"),
    (True, "must be a number"),
    (math.nan, "must be a finite number"),
    (math.inf, "must be a finite number"),
    (1e-320, "out of range"),
    (1e307, "out of range"),
    ([1.2], "must be a number"),
]


@pytest.mark.parametrize("value, words", BAD, ids=[str(v) for v, _ in BAD])
def test_a_bad_scale_is_refused_naming_the_field_and_what_is_allowed(tiny, value, words):
    with pytest.raises(ScenarioError) as err:
        tiny.with_changes({SCALE: value})
    assert str(err.value).count("\n") == 0
    assert "services.support.arrivals.scale: " in str(err.value) and words in str(err.value)


def test_a_bad_scale_in_a_file_is_one_error_line(tmp_path):
    path = write_file(tmp_path, TINY.replace("rate_per_hour = 150 }", "rate_per_hour = 150, scale = 0 }"))
    res = CliRunner().invoke(typer.main.get_command(app), ["run", str(path)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "arrivals.scale: must be > 0" in lines[0]
