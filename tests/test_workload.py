"""Work bounds (model.workload, docs/limits.md): estimates, refusals, and grids counted before expanding."""

from __future__ import annotations

import math
import time

import pytest

from model import load_scenario, simulate
from model.errors import TransferSimError
from model.experiments.grid import (
    MAX_GRID_POINTS,
    MAX_RANGE_VALUES,
    ExperimentError,
    check_grid_size,
    grid_points,
    grid_size,
    parse_values,
    range_count,
)
from model.workload import (
    MAX_EVENTS,
    MAX_MEMORY_BYTES,
    Work,
    WorkTooLarge,
    check_work,
    estimate_work,
    format_seconds,
)

from helpers import BUNDLED, SCENARIOS, one_group


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_scenario_is_far_below_the_bounds(path):
    sc = load_scenario(path)
    w = estimate_work(sc, sc.simulation.replications, keep_events=True, timeline_step=300.0)
    assert w.events < MAX_EVENTS / 1000  # about 1e5..1e6 events
    assert w.memory_bytes < MAX_MEMORY_BYTES / 20
    check_work(w)  # does not raise
    # a sweep of 50 points of it is fine too
    check_work(estimate_work(sc, sc.simulation.replications, points=50))


def test_the_estimate_is_within_a_small_factor_of_the_real_event_count():
    sc = load_scenario(SCENARIOS / "baseline.toml")
    w = estimate_work(sc, 2, keep_events=True)
    real = len(simulate(sc, replications=2, timeline_step=None).events)
    assert real / 2 <= w.events <= 3 * real


def test_the_estimate_follows_the_arrival_spec_transfers_and_offers():
    base = estimate_work(one_group(), 1)
    assert estimate_work(one_group(**{"services.s.arrivals.rate_per_hour": 600}), 1).events > 5 * base.events
    assert estimate_work(one_group(**{"simulation.horizon": "10h"}), 1).events > 5 * base.events
    assert estimate_work(one_group(), 10).events == pytest.approx(10 * base.events)
    assert estimate_work(one_group(), 10, points=3).events > 30 * base.events
    with_transfers = one_group(**{"groups.g.transfers": [{"to": "g", "probability": 0.5}]})
    t = estimate_work(with_transfers, 1)
    assert t.events > base.events
    # re-offers: bounded by transfer_timeout / offer_timeout
    fast = estimate_work(with_transfers.with_changes({"groups.g.offer_timeout": 0.001}), 1)
    assert fast.events > 1000 * t.events
    assert "offer_timeout" in fast.biggest()


def test_a_transfer_to_one_agent_is_estimated_through_that_agents_first_group():
    """``agent:NAME`` targets (model.lifecycle.agent_target): transfers and offers are counted, and
    a contact coming back from the agent chains through the agent's first group."""
    two = one_group(**{"groups": [
        {"name": "g", "agents": 2, "handle_time": {"kind": "exponential", "mean": "5m"},
         "transfers": [{"to": "agent:ann", "probability": 0.5}]},
        {"name": "h", "agents": 0, "handle_time": {"kind": "exponential", "mean": "5m"}, "offer_timeout": "1s",
         "transfers": [{"to": "g", "probability": 0.5}]},
    ], "agents": [{"name": "ann", "groups": ["h"]}]})
    w = estimate_work(two, 1)
    to_ann = [cause for cause in w.parts if "to agent:ann" in cause]
    assert len(to_ann) == 2 and any("offers per transfer" in c and "of group h" in c for c in to_ann)
    # contacts handled by ann follow h's rules: half come back to g, and go on to ann again
    back = [cause for cause in w.parts if "to g (transfer probabilities from group h)" in cause]
    assert back, list(w.parts)
    direct = estimate_work(two.with_changes({"groups.h.transfers": []}), 1)
    assert w.events > direct.events


@pytest.mark.parametrize(
    "changes, replications, words",
    [
        ({"services.s.arrivals.rate_per_hour": 1e300}, 2, "rate_per_hour"),
        ({"simulation.horizon": 1e300}, 2, "warm-up + horizon"),
        ({"groups.g.transfers": [{"to": "g", "probability": 0.5}], "groups.g.offer_timeout": 1e-9}, 2, "offer_timeout"),
        ({}, 1_000_000_000, "replications"),
        ({"groups.g.agents": 10_000_000}, 2, "agents"),
        ({"groups.g.agents": 1_000_000_000}, 2, "agents"),
    ],
    ids=["rate", "horizon", "offer_timeout", "replications", "agents-memory", "agents-events"],
)
def test_hostile_scenarios_are_refused_with_one_line_naming_the_cause(changes, replications, words):
    sc = one_group(**changes)
    w = estimate_work(sc, replications)
    with pytest.raises(WorkTooLarge) as info:
        check_work(w)
    msg = str(info.value)
    assert "\n" not in msg and words in msg and "--force" in msg and "limit" in msg
    assert isinstance(info.value, TransferSimError)
    check_work(w, force=True)  # forced: no refusal


def test_a_near_endless_transfer_cycle_is_refused():
    sc = one_group(**{"groups": [
        {"name": "g", "agents": 1, "handle_time": {"kind": "exponential", "mean": 60},
         "transfers": [{"to": "h", "probability": 0.99999999}]},
        {"name": "h", "agents": 1, "handle_time": {"kind": "exponential", "mean": 60},
         "transfers": [{"to": "g", "probability": 0.99999999}]},
    ]})
    w = estimate_work(sc, 1)
    assert w.events > 1e9
    with pytest.raises(WorkTooLarge, match="transfers per replication"):
        check_work(w)


def test_the_event_log_counts_toward_memory_only_when_kept():
    sc = one_group(**{"simulation.horizon": "5000h"})
    assert estimate_work(sc, 10).memory_bytes < MAX_MEMORY_BYTES
    kept = estimate_work(sc, 10, keep_events=True)
    with pytest.raises(WorkTooLarge, match="event log.*--no-events"):
        check_work(kept)


def test_simulate_refuses_before_running_and_runs_when_forced():
    sc = one_group(**{"services.s.arrivals.rate_per_hour": 1e300})
    start = time.perf_counter()
    with pytest.raises(WorkTooLarge, match="force=True"):
        simulate(sc)
    assert time.perf_counter() - start < 2
    small = one_group()
    assert simulate(small, replications=1, force=True).replications == 1


def test_format_seconds():
    assert format_seconds(5) == "about 5 s"
    assert format_seconds(600) == "about 10 min"
    assert format_seconds(7200) == "about 2.0 h"
    assert format_seconds(math.inf) == "more than a million years"
    assert Work(events=MAX_EVENTS, per_replication=1, memory_bytes=0, replications=1).seconds > 3600


# -- grids: counted, never expanded, before refusing -------------------------------------------------
def test_a_huge_range_is_counted_arithmetically_and_refused_at_once():
    assert range_count(1, 100_000_000, 1) == 100_000_000
    assert range_count(0, 1, 0.25) == 5
    start = time.perf_counter()
    with pytest.raises(ExperimentError, match="100,000,000 values"):
        parse_values("1..100000000")
    with pytest.raises(ExperimentError):
        parse_values("0..1e300:1")
    assert time.perf_counter() - start < 0.5
    assert len(parse_values(f"1..{MAX_RANGE_VALUES}")) == MAX_RANGE_VALUES


@pytest.mark.parametrize("text", ["1..inf", "nan..3", "1..3:nan", "1..3:inf", "1..3:0", "1..3:-1", "5..1"])
def test_ranges_with_non_finite_or_empty_bounds_are_refused(text):
    with pytest.raises(ExperimentError):
        parse_values(text)


def test_a_huge_grid_is_refused_without_being_built():
    vary = {"a": list(range(1000)), "b": list(range(1000)), "c": list(range(1000))}
    assert grid_size(vary) == 10**9
    start = time.perf_counter()
    with pytest.raises(ExperimentError, match="1,000,000,000 points"):
        grid_points(vary)
    with pytest.raises(ExperimentError):
        check_grid_size(vary)
    assert time.perf_counter() - start < 0.5
    assert check_grid_size({"a": [1, 2], "b": [3, 4, 5]}) == 6
    assert len(grid_points({"a": list(range(MAX_GRID_POINTS))})) == MAX_GRID_POINTS


def test_tune_with_force_runs_settings_above_the_bounds(monkeypatch):
    """tune() passes ``force`` to each sweep it runs: forcing the tuning forces its settings."""
    import model.workload as workload
    from model import load_scenario
    from model.experiments import tune

    sc = load_scenario(SCENARIOS / "baseline.toml").with_changes(
        {"simulation.horizon": "10m", "simulation.warmup": "0s"}
    )
    monkeypatch.setattr(workload, "MAX_EVENTS", 1.0)
    with pytest.raises(workload.WorkTooLarge):
        tune(sc, "transfer_abandonment_rate", 0.9, "groups.billing.agents", "3..4", replications=2, executor="serial")
    res = tune(sc, "transfer_abandonment_rate", 0.9, "groups.billing.agents", "3..4", replications=2,
               executor="serial", force=True)
    assert len(res.explored) >= 2
