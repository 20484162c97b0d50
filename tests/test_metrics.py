"""Every figure of LIFECYCLE.md's "What is measured", against values computed by hand.

Three layers, each with inputs small enough that the expected value is written out as arithmetic
in the test (never a call to the code under test):

* :class:`Tally` filled by hand -> ``figures()`` (rates, time-to-join mean and percentiles, the
  20 s service level, per-transfer ratios, the exclusion of open contacts from denominators);
* ``per_replication_rows`` / ``confidence_interval`` / ``summarise`` / ``SimulationResult`` on
  hand-made rows (means, Student-t half-widths, NaN, n = 1, clipping on both sides);
* deterministic engine runs (constant arrivals, constant handle times and accept delays, one
  agent or a few, transfer rules of probability 1, rejects of probability 1 or 0) whose event
  log is traced by hand in the comments: counts, time to join, occupancy, the warm-up edge and
  the horizon edge.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from model.results.metrics import SERVICE_LEVEL_SECONDS, Tally, confidence_interval, summarise
from model.results.result import SimulationResult, per_replication_rows
from model.scenario import scenario_from_dict
from model.sim import run_replication, simulate

BIN = 0.01  # the time-to-join histogram's resolution: percentiles are bin midpoints


# -- (a) a Tally filled by hand ------------------------------------------------------------------
def hand_tally() -> Tally:
    """50 arrivals: 30 completed, 5 left the queue, 3 dissuaded, 2 left in a transfer, 6 transfers
    expired, 4 still open at the horizon (30 + 5 + 3 + 2 + 6 + 4 = 50).
    20 transfers requested: 9 accepted, 6 expired, 2 abandoned, 1 returned, 2 open (9+6+2+1+2 = 20).
    25 offers, 7 rejects. Every count differs from the others, so a wrong name shows."""
    t = Tally(max_time_to_join=120.0)
    t.counts.update(
        arrivals=50, completed=30, abandoned_queue=5, dissuaded=3, abandoned_transfer=2,
        transfer_expired=6, open=4, transfers_requested=20, transfers_returned=1, transfers_open=2,
        offers=25, rejects=7,
    )
    for ttj in JOINS:
        t.joined(ttj)
    return t


# nine joins; 20.0 exactly is within the 20 s service level, 20.015 and 25.005 are not (but
# would be within 30 s); the others sit mid-bin so their percentile is the value itself
JOINS = [12.005, 1.005, 44.005, 20.0, 25.005, 4.005, 58.005, 20.015, 31.005]
# sorted: 1.005, 4.005, 12.005, 20.0, 20.015, 25.005, 31.005, 44.005, 58.005


def test_counts_are_reported_as_they_were_counted():
    f = hand_tally().figures()
    assert f["arrivals"] == 50
    assert f["completed"] == 30
    assert f["abandoned_queue"] == 5
    assert f["dissuaded"] == 3
    assert f["abandoned_transfer"] == 2
    assert f["transfer_expired"] == 6
    assert f["transfers_requested"] == 20
    assert f["transfers_accepted"] == 9  # one per joined()
    assert hand_tally().counts["joined_within_service_level"] == 4  # 1.005, 4.005, 12.005, 20.0


def test_contact_rates_divide_by_the_contacts_that_ended():
    f = hand_tally().figures()
    ended = 50 - 4  # open contacts have no outcome yet
    assert f["queue_abandonment_rate"] == pytest.approx((5 + 3) / ended)  # 8 / 46
    assert f["abandonment_rate"] == pytest.approx((ended - 30) / ended)  # 16 / 46


def test_transfer_rates_divide_by_the_transfers_that_ended():
    f = hand_tally().figures()
    req = 20 - 2  # open transfers have no outcome yet
    assert f["transfer_abandonment_rate"] == pytest.approx((6 + 2) / req)  # 8 / 18
    assert f["transfer_success_rate"] == pytest.approx(9 / req)
    assert f["transfer_service_level"] == pytest.approx(4 / req)
    assert f["rejects_per_transfer"] == pytest.approx(7 / req)
    assert f["offers_per_transfer"] == pytest.approx(25 / req)


def test_time_to_join_mean_is_exact_and_percentiles_are_nearest_rank():
    f = hand_tally().figures()
    assert f["time_to_join_mean"] == pytest.approx(
        (12.005 + 1.005 + 44.005 + 20.0 + 25.005 + 4.005 + 58.005 + 20.015 + 31.005) / 9
    )
    # nearest rank over 9 joins: p50 -> ceil(4.5) = 5th, p90 -> ceil(8.1) = 9th, p95 -> 9th
    assert f["time_to_join_p50"] == pytest.approx(20.015, abs=BIN)
    assert f["time_to_join_p90"] == pytest.approx(58.005, abs=BIN)
    assert f["time_to_join_p95"] == pytest.approx(58.005, abs=BIN)


def test_percentiles_of_twenty_joins_are_three_different_order_statistics():
    t = Tally(60.0)
    for k in (7, 19, 3, 12, 1, 20, 15, 9, 4, 17, 2, 11, 14, 6, 18, 8, 13, 5, 16, 10):
        t.joined(k + 0.005)  # mid-bin: the bin midpoint is the value
    f = t.figures()
    assert f["transfers_accepted"] == 20
    assert f["time_to_join_mean"] == pytest.approx((20 * 21 / 2 + 20 * 0.005) / 20)  # 10.505
    assert f["time_to_join_p50"] == pytest.approx(10.005)  # 10th of 20 (ceil 0.50 x 20)
    assert f["time_to_join_p90"] == pytest.approx(18.005)  # 18th of 20 (ceil 0.90 x 20)
    assert f["time_to_join_p95"] == pytest.approx(19.005)  # 19th of 20 (ceil 0.95 x 20)


def test_service_level_is_joined_within_20_seconds_inclusive():
    assert SERVICE_LEVEL_SECONDS == 20.0
    t = Tally(60.0)
    for ttj in (0.0, 19.99, 20.0, 20.001, 25.0, 29.99, 45.0):
        t.joined(ttj)
    t.counts["transfers_requested"] = 8  # one more requested, expired
    t.counts["transfer_expired"] = 1
    f = t.figures()
    assert f["transfer_service_level"] == pytest.approx(3 / 8)  # 0, 19.99, 20.0 of 8 requested
    assert f["transfer_success_rate"] == pytest.approx(7 / 8)


def test_an_empty_tally_has_zero_counts_and_nan_rates():
    f = Tally(60.0).figures()
    for k in ("arrivals", "completed", "abandoned_queue", "dissuaded", "abandoned_transfer",
              "transfer_expired", "transfers_requested", "transfers_accepted"):
        assert f[k] == 0
    for k in ("transfer_abandonment_rate", "transfer_success_rate", "queue_abandonment_rate",
              "abandonment_rate", "transfer_service_level", "rejects_per_transfer",
              "offers_per_transfer", "time_to_join_mean", "time_to_join_p50", "time_to_join_p90",
              "time_to_join_p95"):
        assert math.isnan(f[k]), k


def test_every_contact_still_open_leaves_the_contact_rates_undefined():
    t = Tally(60.0)
    t.counts.update(arrivals=3, open=3, transfers_requested=2, transfers_open=2)
    f = t.figures()
    assert f["arrivals"] == 3 and f["transfers_requested"] == 2
    assert math.isnan(f["queue_abandonment_rate"]) and math.isnan(f["abandonment_rate"])
    assert math.isnan(f["transfer_abandonment_rate"]) and math.isnan(f["rejects_per_transfer"])


def test_merge_adds_counts_and_join_histograms():
    a, b = Tally(60.0), Tally(120.0)
    a.counts.update(arrivals=4, completed=3, open=1, transfers_requested=2)
    b.counts.update(arrivals=6, abandoned_queue=2, dissuaded=1, completed=3, transfers_requested=1)
    for ttj in (1.005, 2.005):
        a.joined(ttj)
    b.joined(90.005)
    a.merge(b)
    f = a.figures()
    assert f["arrivals"] == 10 and f["transfers_accepted"] == 3
    assert f["queue_abandonment_rate"] == pytest.approx((0 + 2 + 1) / (10 - 1))
    assert f["time_to_join_mean"] == pytest.approx((1.005 + 2.005 + 90.005) / 3)
    assert f["time_to_join_p50"] == pytest.approx(2.005)  # 2nd of 3
    assert f["time_to_join_p95"] == pytest.approx(90.005)  # 3rd of 3, from the longer histogram


# -- (b) replications: rows, intervals, summaries ------------------------------------------------
def test_confidence_interval_is_the_student_t_interval():
    mean, lo, hi, n = confidence_interval([1.0, 2.0, 3.0, 4.0])
    s = math.sqrt(((1.5**2) + (0.5**2) + (0.5**2) + (1.5**2)) / 3)  # sample sd = sqrt(5/3)
    half = stats.t.ppf(0.975, 3) * s / math.sqrt(4)
    assert stats.t.ppf(0.975, 3) == pytest.approx(3.182446, abs=1e-6)  # the table value
    assert (mean, n) == (2.5, 4)
    assert lo == pytest.approx(2.5 - half) and hi == pytest.approx(2.5 + half)
    assert half == pytest.approx(2.0543, abs=1e-4)


def test_confidence_interval_at_99_percent():
    mean, lo, hi, n = confidence_interval([1.0, 2.0, 3.0, 4.0], level=0.99)
    half = 5.840909 * math.sqrt(5 / 3) / 2  # t_{0.995, 3} = 5.840909
    assert mean == 2.5 and n == 4
    assert hi - mean == pytest.approx(half, rel=1e-6) and mean - lo == pytest.approx(half, rel=1e-6)


def test_confidence_interval_of_two_values():
    mean, lo, hi, n = confidence_interval([10.0, 14.0])
    half = 12.706205 * math.sqrt(8.0) / math.sqrt(2)  # sd of (10, 14) = sqrt(8); t_{0.975,1}
    assert (mean, n) == (12.0, 2)
    assert hi == pytest.approx(12.0 + half, rel=1e-6) and lo == pytest.approx(12.0 - half, rel=1e-6)


def test_one_replication_gives_the_point_as_its_interval():
    # pinned: no spread can be estimated from one value, the interval collapses onto it
    assert confidence_interval([0.3]) == (0.3, 0.3, 0.3, 1)


def test_equal_values_give_a_zero_width_interval():
    mean, lo, hi, n = confidence_interval([0.2, 0.2, 0.2])
    assert n == 3
    assert mean == pytest.approx(0.2) and lo == pytest.approx(0.2) and hi == pytest.approx(0.2)


def test_nan_replications_are_left_out():
    mean, lo, hi, n = confidence_interval([1.0, math.nan, 3.0, float("nan")])
    half = 12.706205 * math.sqrt(2.0) / math.sqrt(2)  # values 1 and 3: sd sqrt(2), n = 2
    assert (mean, n) == (2.0, 2)
    assert hi == pytest.approx(2.0 + half, rel=1e-6) and lo == pytest.approx(2.0 - half, rel=1e-6)
    assert confidence_interval([np.float64("nan"), 5.0]) == (5.0, 5.0, 5.0, 1)
    m, lo, hi, n = confidence_interval([math.nan, math.nan])
    assert n == 0 and math.isnan(m) and math.isnan(lo) and math.isnan(hi)
    m, lo, hi, n = confidence_interval([])
    assert n == 0 and math.isnan(m)


def frame(values: dict[str, list[float]], scope: str = "overall", key: str = "all") -> pd.DataFrame:
    rows = [(r, scope, key, metric, v) for metric, vs in values.items() for r, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["replication", "scope", "key", "metric", "value"])


def one(df: pd.DataFrame, metric: str) -> pd.Series:
    sel = df[df.metric == metric]
    assert len(sel) == 1, metric
    return sel.iloc[0]


T3 = 3.182446  # t_{0.975, 3}


def test_summarise_clips_proportions_to_0_1_and_other_figures_at_0():
    df = summarise(frame({
        # proportion near 0: mean 0.025, sd 0.05, half = 3.182446 x 0.05 / 2 = 0.0795612
        "queue_abandonment_rate": [0.0, 0.0, 0.0, 0.1],
        # proportion near 1: mean 0.975, same half-width
        "transfer_success_rate": [1.0, 1.0, 1.0, 0.9],
        # proportion in the middle: mean 0.5, sd sqrt(0.02 / 3), half = 0.1299, not clipped
        "transfer_service_level": [0.4, 0.5, 0.5, 0.6],
        # occupancy is a proportion too
        "agent_occupancy": [1.0, 1.0, 1.0, 0.9],
        # not a proportion: mean 0.75, sd 1.5, half = 2.3868345; clipped at 0, not at 1
        "rejects_per_transfer": [0.0, 0.0, 0.0, 3.0],
        # a count far from 0: mean 100, sd sqrt(200/3) = 8.1649658, half = 12.9921...; unclipped
        "arrivals": [90.0, 100.0, 100.0, 110.0],
        # all NaN: nothing to clip, n = 0
        "time_to_join_mean": [math.nan] * 4,
    }))
    h = T3 * 0.05 / 2
    r = one(df, "queue_abandonment_rate")
    assert r["mean"] == pytest.approx(0.025) and r.n == 4
    assert r.ci_low == 0.0  # 0.025 - 0.0796 < 0
    assert r.ci_high == pytest.approx(0.025 + h, rel=1e-6)
    r = one(df, "transfer_success_rate")
    assert r["mean"] == pytest.approx(0.975)
    assert r.ci_low == pytest.approx(0.975 - h, rel=1e-6)
    assert r.ci_high == 1.0  # 0.975 + 0.0796 > 1
    r = one(df, "agent_occupancy")
    assert r.ci_high == 1.0 and r.ci_low == pytest.approx(0.975 - h, rel=1e-6)
    r = one(df, "transfer_service_level")
    assert r.ci_low == pytest.approx(0.5 - T3 * math.sqrt(0.02 / 3) / 2, rel=1e-6)
    assert r.ci_high == pytest.approx(0.5 + T3 * math.sqrt(0.02 / 3) / 2, rel=1e-6)
    r = one(df, "rejects_per_transfer")
    assert r["mean"] == pytest.approx(0.75)
    assert r.ci_low == 0.0
    assert r.ci_high == pytest.approx(0.75 + T3 * 1.5 / 2, rel=1e-6)  # 3.137 > 1, kept
    r = one(df, "arrivals")
    assert r.ci_low == pytest.approx(100 - T3 * math.sqrt(200 / 3) / 2, rel=1e-6)
    assert r.ci_high == pytest.approx(100 + T3 * math.sqrt(200 / 3) / 2, rel=1e-6)
    r = one(df, "time_to_join_mean")
    assert r.n == 0 and math.isnan(r["mean"]) and math.isnan(r.ci_low) and math.isnan(r.ci_high)


def test_summarise_keeps_one_row_per_scope_key_metric_with_its_own_interval():
    pr = pd.concat([
        frame({"transfer_abandonment_rate": [0.1, 0.2, 0.3, 0.4]}, "target", "billing"),
        frame({"transfer_abandonment_rate": [0.5, 0.5, 0.5, 0.5]}, "target", "tech"),
        frame({"agent_occupancy": [0.7]}, "group", "front"),
    ])
    df = summarise(pr)
    assert list(df.columns) == ["scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
    assert [(r.scope, r.key, r.n) for r in df.itertuples()] == [("target", "billing", 4), ("target", "tech", 4),
                                                               ("group", "front", 1)]
    half = T3 * math.sqrt(5 / 3) / 2 / 10  # the [1, 2, 3, 4] interval scaled by 1/10: 0.20543
    b = df[df.key == "billing"].iloc[0]
    assert b["mean"] == pytest.approx(0.25)
    assert b.ci_low == pytest.approx(0.25 - half, rel=1e-6)  # 0.0446: positive, not clipped
    assert b.ci_high == pytest.approx(0.25 + half, rel=1e-6)
    t = df[df.key == "tech"].iloc[0]
    assert (t["mean"], t.ci_low, t.ci_high) == pytest.approx((0.5, 0.5, 0.5))
    g = df[df.key == "front"].iloc[0]
    assert (g["mean"], g.ci_low, g.ci_high) == (0.7, 0.7, 0.7)  # n = 1: the point


def test_per_replication_rows_overall_is_the_ratio_of_summed_counts():
    a, b, target = Tally(60.0), Tally(60.0), Tally(60.0)
    a.counts.update(arrivals=10, completed=6, abandoned_queue=2, dissuaded=1, open=1)
    b.counts.update(arrivals=20, completed=19, abandoned_queue=1)
    target.counts.update(transfers_requested=4, transfer_expired=1, offers=5, rejects=2)
    for ttj in (3.005, 30.005, 9.005):
        target.joined(ttj)
    rows = per_replication_rows(2, {"a": a, "b": b}, {"billing": target}, {"front": 0.75})
    assert {r[0] for r in rows} == {2}
    get = {(s, k, m): v for _, s, k, m, v in rows}
    assert get[("service", "a", "queue_abandonment_rate")] == pytest.approx(3 / 9)
    assert get[("service", "b", "queue_abandonment_rate")] == pytest.approx(1 / 20)
    # overall: (2 + 1 + 1 + 0) / ((10 - 1) + 20), not the mean of 3/9 and 1/20
    assert get[("overall", "all", "queue_abandonment_rate")] == pytest.approx(4 / 29)
    assert get[("overall", "all", "abandonment_rate")] == pytest.approx((29 - 25) / 29)
    assert get[("overall", "all", "arrivals")] == 30
    assert get[("target", "billing", "transfer_abandonment_rate")] == pytest.approx(1 / 4)
    assert get[("target", "billing", "transfer_success_rate")] == pytest.approx(3 / 4)
    assert get[("target", "billing", "transfer_service_level")] == pytest.approx(2 / 4)  # 3, 9 s
    assert get[("target", "billing", "rejects_per_transfer")] == pytest.approx(2 / 4)
    assert get[("target", "billing", "offers_per_transfer")] == pytest.approx(5 / 4)
    assert get[("target", "billing", "time_to_join_mean")] == pytest.approx((3.005 + 30.005 + 9.005) / 3)
    assert get[("target", "billing", "time_to_join_p50")] == pytest.approx(9.005)  # 2nd of 3
    assert get[("target", "billing", "time_to_join_p90")] == pytest.approx(30.005)  # 3rd of 3
    assert get[("group", "front", "agent_occupancy")] == 0.75
    assert ("target", "billing", "arrivals") not in get  # arrivals mean nothing per target
    assert ("target", "billing", "queue_abandonment_rate") not in get


def test_simulation_result_reads_the_summary():
    pr = pd.concat([
        frame({"queue_abandonment_rate": [0.1, 0.2, 0.3, 0.4]}),
        frame({"agent_occupancy": [0.5]}, "group", "front"),
    ])
    r = SimulationResult(scenario=None, seed=1, replications=4, per_replication=pr)
    half = T3 * math.sqrt(5 / 3) / 20
    mean, lo, hi = r.metric("queue_abandonment_rate")
    assert mean == pytest.approx(0.25)
    assert lo == pytest.approx(0.25 - half, rel=1e-6) and hi == pytest.approx(0.25 + half, rel=1e-6)
    assert r.metric("agent_occupancy", "group", "front") == (0.5, 0.5, 0.5)
    d = r.to_dict()["metrics"]
    assert d["overall"]["queue_abandonment_rate"]["ci95"] == [pytest.approx(0.25 - half, rel=1e-6),
                                                              pytest.approx(0.25 + half, rel=1e-6)]
    with pytest.raises(KeyError):
        r.metric("queue_abandonment_rate", "target", "billing")


# -- (c) deterministic engine runs, traced by hand -----------------------------------------------
def build(services, groups, warmup: float, horizon: float, agents=None):
    data = {
        "simulation": {"horizon": horizon, "warmup": warmup, "replications": 1, "seed": 1},
        "services": services,
        "groups": groups,
    }
    if agents:
        data["agents"] = agents
    return scenario_from_dict(data, name="by-hand")


def const(seconds: float) -> dict:
    return {"kind": "constant", "value": seconds}


EVERY_100S = {"kind": "constant", "rate_per_hour": 36}  # arrivals at 100, 200, 300, ... s


def queue_only(leave: str, warmup: float = 200.0, horizon: float = 820.0):
    """One agent, one chat at a time, 150 s per chat; a contact every 100 s that waits at most
    30 s (``leave``: by patience, or by the dissuasion timeout)."""
    service = {"name": "chat", "entry_group": "agents", "arrivals": EVERY_100S}
    if leave == "patience":
        service["patience"] = const(30.0)
    else:
        service["dissuasion_timeout"] = 30.0
    groups = [{"name": "agents", "agents": 1, "max_concurrent": 1, "handle_time": const(150.0)}]
    return build([service], groups, warmup, horizon)


# The trace, warm-up 200 s, end 200 + 820 = 1020 s. Contact k arrives at 100k.
#   c1  100  served [100, 250]                     arrived before the warm-up: not counted
#   c2  200  queued, leaves at 230 (agent busy)    counted: arrived exactly at the warm-up
#   c3  300  served [300, 450]      c4  400  leaves at 430
#   c5  500  served [500, 650]      c6  600  leaves at 630
#   c7  700  served [700, 850]      c8  800  leaves at 830
#   c9  900  served [900, 1050]: engaged at the end -> open
#   c10 1000 queued, would leave at 1030 > 1020: queued at the end -> open
# counted: c2..c10 = 9 arrivals; 3 completed (c3, c5, c7); 4 left the queue (c2, c4, c6, c8);
# 2 open; 7 ended. Busy after the warm-up: 250-200 + 3 x 150 + (1020-900) = 620 of 820 s.
@pytest.mark.parametrize("leave, outcome, other", [("patience", "abandoned_queue", "dissuaded"),
                                                   ("dissuasion", "dissuaded", "abandoned_queue")])
def test_queue_only_run_counts_rates_and_occupancy(leave, outcome, other):
    out = run_replication(queue_only(leave), 1, 0, keep_events=False, timeline_step=None)
    c = out.by_service["chat"].counts
    assert c["arrivals"] == 9
    assert c["completed"] == 3
    assert c[outcome] == 4 and c[other] == 0
    assert c["open"] == 2
    assert c["transfers_requested"] == 0
    f = out.by_service["chat"].figures()
    ended = 9 - 2
    assert f["queue_abandonment_rate"] == pytest.approx(4 / ended)  # not 4/9: open left out
    assert f["abandonment_rate"] == pytest.approx((ended - 3) / ended)
    assert math.isnan(f["transfer_abandonment_rate"]) and math.isnan(f["time_to_join_mean"])
    assert out.occupancy["agents"] == pytest.approx((50 + 3 * 150 + 120) / (1 * 820))


def test_queue_only_result_rows_and_summary():
    # two replications of a deterministic run: equal values, a zero-width interval
    r = simulate(queue_only("dissuasion"), replications=2, keep_events=True, timeline_step=None)
    assert r.metric("arrivals") == (9.0, 9.0, 9.0)
    mean, lo, hi = r.metric("queue_abandonment_rate")
    assert mean == pytest.approx(4 / 7) and lo == pytest.approx(4 / 7) and hi == pytest.approx(4 / 7)
    assert r.metric("dissuaded", "service", "chat")[0] == 4
    assert r.metric("agent_occupancy", "group", "agents")[0] == pytest.approx(620 / 820)
    ev = r.events[r.events.replication == 0]
    assert list(ev[ev.event == "arrive"].time) == [100.0 * k for k in range(1, 11)]
    assert list(ev[ev.event == "dissuade"].time) == [230.0, 430.0, 630.0, 830.0]
    assert list(ev[ev.event == "close"].time) == [250.0, 450.0, 650.0, 850.0]


def test_warmup_edge_a_contact_at_the_warmup_counts_one_just_before_does_not():
    at = run_replication(queue_only("patience", warmup=200.0), 1, 0, keep_events=False, timeline_step=None)
    assert at.by_service["chat"].counts["arrivals"] == 9  # c2..c10
    assert at.by_service["chat"].counts["abandoned_queue"] == 4  # c2 included
    # the warm-up a hair after 200 s: c2 (at 200) arrived just before it
    after = run_replication(queue_only("patience", warmup=math.nextafter(200.0, math.inf)), 1, 0,
                            keep_events=False, timeline_step=None)
    c = after.by_service["chat"].counts
    assert c["arrivals"] == 8  # c3..c10
    assert c["abandoned_queue"] == 3  # c4, c6, c8
    assert c["completed"] == 3 and c["open"] == 2
    assert after.by_service["chat"].figures()["queue_abandonment_rate"] == pytest.approx(3 / (8 - 2))


def test_horizon_edge_open_contacts_are_counted_but_left_out_of_the_rates():
    # end 200 + 720 = 920 instead of 1020: c9 (engaged until 1050) is open, c10 never arrives
    out = run_replication(queue_only("patience", horizon=720.0), 1, 0, keep_events=False, timeline_step=None)
    c = out.by_service["chat"].counts
    assert (c["arrivals"], c["completed"], c["abandoned_queue"], c["open"]) == (8, 3, 4, 1)
    f = out.by_service["chat"].figures()
    assert f["queue_abandonment_rate"] == pytest.approx(4 / (8 - 1))
    assert f["abandonment_rate"] == pytest.approx((7 - 3) / 7)
    assert out.occupancy["agents"] == pytest.approx((50 + 3 * 150 + 20) / 720)


def test_occupancy_counts_slots_and_only_time_after_the_warmup():
    # one agent with 2 chat slots, a chat every 100 s lasting 150 s, nobody leaves
    service = {"name": "chat", "entry_group": "agents", "arrivals": EVERY_100S}
    groups = [{"name": "agents", "agents": 1, "max_concurrent": 2, "handle_time": const(150.0)}]
    out = run_replication(build([service], groups, 300.0, 600.0), 1, 0, keep_events=False, timeline_step=None)
    # chats [100k, 100k + 150]; over [300, 900]: in each 100 s, 2 slots busy for 50 s and 1 for
    # the other 50 s -> 150 slot-seconds per 100 s, 900 over the 600 s; 2 slots x 600 s on shift
    assert out.occupancy["agents"] == pytest.approx(900 / (2 * 600))
    c = out.by_service["chat"].counts
    # counted: arrivals at 300..800 (900 is not before the end); 300..700 closed by 850, 800 open
    assert (c["arrivals"], c["completed"], c["open"]) == (6, 5, 1)


def transfers(back: dict, timeout: float, horizon: float = 1000.0, patience: dict | None = None):
    """Front: one agent, 10 s per chat, transfers every chat (probability 1) to ``back``."""
    service = {"name": "chat", "entry_group": "front", "arrivals": EVERY_100S, "transfer_timeout": timeout}
    if patience is not None:
        service["transfer_patience"] = patience
    groups = [
        {"name": "front", "agents": 1, "max_concurrent": 1, "handle_time": const(10.0),
         "transfers": [{"to": "back", "probability": 1.0}]},
        {"name": "back", "max_concurrent": 1, "handle_time": const(140.0), "accept_delay": const(5.0),
         **back},
    ]
    return build([service], groups, 0.0, horizon)


# The trace: one back agent accepting after 5 s, 140 s per chat, transfer timeout 120 s, end 1000.
# Contact k arrives at 100k, is transferred at 100k + 10 (deadline 100k + 130).
#   c1 req 110, offered 110, joined 115 (5 s),  back busy to 255
#   c2 req 210, offered 255, joined 260 (50 s), back to 400
#   c3 req 310, offered 400, joined 405 (95 s), back to 545
#   c4 req 410, deadline 530 < 545: transfer_expired
#   c5 req 510, offered 545, joined 550 (40 s), back to 690
#   c6 req 610, offered 690, joined 695 (85 s), back to 835
#   c7 req 710, deadline 830 < 835: transfer_expired
#   c8 req 810, offered 835, joined 840 (30 s), back to 980
#   c9 req 910, offered 980, joined 985 (75 s), engaged at the end (1125): open
# 9 arrivals, 6 completed, 2 expired, 1 open; 9 requested, 7 accepted, 7 offers, no reject.
# Times to join, sorted: 5, 30, 40, 50, 75, 85, 95.
# Occupancy: front 9 x 10 s of 1000; back holds its slot from the first offer (110) to the end.
def test_transfer_run_counts_time_to_join_and_occupancy():
    sc = transfers({"agents": 1, "reject_probability": 0.0}, timeout=120.0)
    out = run_replication(sc, 1, 0, keep_events=False, timeline_step=None)
    for tally in (out.by_service["chat"], out.by_target["back"]):
        c = tally.counts
        assert (c["transfers_requested"], c["transfers_accepted"], c["transfer_expired"]) == (9, 7, 2)
        assert (c["offers"], c["rejects"], c["abandoned_transfer"], c["transfers_open"]) == (7, 0, 0, 0)
        f = tally.figures()
        assert f["transfer_abandonment_rate"] == pytest.approx((2 + 0) / 9)
        assert f["transfer_success_rate"] == pytest.approx(7 / 9)
        assert f["transfer_service_level"] == pytest.approx(1 / 9)  # only the 5 s join; 30 s is not
        assert f["offers_per_transfer"] == pytest.approx(7 / 9)
        assert f["rejects_per_transfer"] == 0.0
        assert f["time_to_join_mean"] == pytest.approx((5 + 50 + 95 + 40 + 85 + 30 + 75) / 7)
        assert f["time_to_join_p50"] == pytest.approx(50.0, abs=BIN)  # 4th of 7 (ceil 3.5)
        assert f["time_to_join_p90"] == pytest.approx(95.0, abs=BIN)  # 7th of 7 (ceil 6.3)
        assert f["time_to_join_p95"] == pytest.approx(95.0, abs=BIN)  # 7th of 7 (ceil 6.65)
    c = out.by_service["chat"].counts
    assert (c["arrivals"], c["completed"], c["open"], c["abandoned_queue"]) == (9, 6, 1, 0)
    f = out.by_service["chat"].figures()
    assert f["queue_abandonment_rate"] == 0.0
    assert f["abandonment_rate"] == pytest.approx((8 - 6) / 8)  # c9 open: 8 ended
    assert out.occupancy["front"] == pytest.approx(9 * 10 / 1000)
    assert out.occupancy["back"] == pytest.approx((1000 - 110) / 1000)


def test_transfer_run_event_log_matches_the_trace():
    sc = transfers({"agents": 1, "reject_probability": 0.0}, timeout=120.0)
    r = simulate(sc, replications=1, keep_events=True, timeline_step=None)
    tr = r.transfers
    assert list(tr.outcome.astype(str)) == ["accepted", "accepted", "accepted", "transfer_expired", "accepted",
                                            "accepted", "transfer_expired", "accepted", "accepted"]
    assert list(tr.requested_at) == [110.0 + 100 * k for k in range(9)]
    joined = tr[tr.outcome == "accepted"].time_to_join
    assert list(joined) == [5.0, 50.0, 95.0, 40.0, 85.0, 30.0, 75.0]
    assert r.metric("time_to_join_p90", "target", "back")[0] == pytest.approx(95.0, abs=BIN)
    assert r.metric("transfer_service_level", "target", "back")[0] == pytest.approx(1 / 9)
    assert r.metric("agent_occupancy", "group", "back")[0] == pytest.approx(0.89)


def test_rejected_offers_count_per_transfer():
    # three back agents, sequential, every offer rejected after 5 s, transfer timeout 12 s:
    # offer A at +0, rejected +5; offer B +5, rejected +10; offer C +10; expired at +12.
    # 9 transfers (requested 110 .. 910): 27 offers, 18 rejects, 9 expired.
    sc = transfers({"agents": 3, "reject_probability": 1.0, "offer_mode": "sequential"}, timeout=12.0)
    out = run_replication(sc, 1, 0, keep_events=False, timeline_step=None)
    c = out.by_target["back"].counts
    assert (c["transfers_requested"], c["offers"], c["rejects"], c["transfer_expired"]) == (9, 27, 18, 9)
    f = out.by_target["back"].figures()
    assert f["rejects_per_transfer"] == pytest.approx(18 / 9)
    assert f["offers_per_transfer"] == pytest.approx(27 / 9)
    assert f["transfer_abandonment_rate"] == pytest.approx(9 / 9)
    assert f["transfer_success_rate"] == 0.0 and f["transfer_service_level"] == 0.0
    assert math.isnan(f["time_to_join_mean"]) and math.isnan(f["time_to_join_p50"])
    s = out.by_service["chat"].figures()
    assert s["abandonment_rate"] == pytest.approx(9 / 9) and s["queue_abandonment_rate"] == 0.0
    # each transfer holds one back slot for 12 s: 9 x 12 of 3 slots x 1000 s
    assert out.occupancy["back"] == pytest.approx(9 * 12 / (3 * 1000))


def test_customer_leaving_a_transfer_and_a_transfer_open_at_the_horizon():
    # one back agent answering after 50 s, transfer timeout 60 s, the customer waits 30 s in a
    # transfer: every transfer ends abandoned_transfer at request + 30. End 920: c9 (requested
    # at 910) is still in its transfer at the end -> open, left out of the transfer rates.
    sc = transfers({"agents": 1, "reject_probability": 0.0, "accept_delay": const(50.0)}, timeout=60.0,
                   horizon=920.0, patience=const(30.0))
    out = run_replication(sc, 1, 0, keep_events=False, timeline_step=None)
    for tally in (out.by_service["chat"], out.by_target["back"]):
        c = tally.counts
        assert (c["transfers_requested"], c["abandoned_transfer"], c["transfers_open"], c["offers"]) == (9, 8, 1, 9)
        assert c["transfers_accepted"] == 0 and c["transfer_expired"] == 0
        f = tally.figures()
        assert f["transfer_abandonment_rate"] == pytest.approx((0 + 8) / (9 - 1))
        assert f["offers_per_transfer"] == pytest.approx(9 / (9 - 1))
        assert f["transfer_success_rate"] == 0.0
    c = out.by_service["chat"].counts
    assert (c["arrivals"], c["open"], c["completed"]) == (9, 1, 0)
    assert out.by_service["chat"].figures()["abandonment_rate"] == pytest.approx(8 / 8)


# -- the time-to-join histogram at its edges; summaries at another level ----------------------


def test_a_join_beyond_the_histogram_lands_in_its_last_bin_and_still_counts():
    from model.results.metrics import TTJ_BIN, Tally

    t = Tally(max_time_to_join=1.0)  # bins of TTJ_BIN up to 1 s, plus room for the edge and beyond
    assert len(t.ttj_hist) == int(round(1.0 / TTJ_BIN)) + 2
    t.joined(0.5)
    t.joined(5.0)  # far beyond the last bin
    assert t.ttj_hist[-1] == 1 and t.ttj_hist.sum() == 2
    assert t.counts["transfers_accepted"] == 2 and t.ttj_sum == 5.5
    assert t.quantile(1.0) == (len(t.ttj_hist) - 1 + 0.5) * TTJ_BIN  # the overflow bin's midpoint
    assert t.quantile(0.5) == pytest.approx(0.505)


def test_two_joins_in_one_bin_count_twice_in_the_quantiles():
    from model.results.metrics import Tally

    t = Tally(max_time_to_join=10.0)
    for x in (1.001, 1.002, 9.0):  # the first two share the bin [1.00, 1.01)
        t.joined(x)
    assert t.ttj_hist[100] == 2
    assert t.quantile(0.5) == pytest.approx(1.005)  # 2 of 3 joins are in that bin
    assert t.quantile(0.9) == pytest.approx(9.005)


def test_merging_tallies_with_histograms_of_different_lengths_keeps_every_join():
    from model.results.metrics import Tally

    short, long_ = Tally(max_time_to_join=1.0), Tally(max_time_to_join=10.0)
    short.joined(0.25)
    long_.joined(7.5)
    a = Tally(max_time_to_join=1.0)
    a.merge(short)
    a.merge(long_)  # grows to the longer histogram
    assert len(a.ttj_hist) == len(long_.ttj_hist) and a.ttj_hist.sum() == 2
    assert a.quantile(0.0 + 1e-9) == pytest.approx(0.255) and a.quantile(1.0) == pytest.approx(7.505)
    b = Tally(max_time_to_join=10.0)
    b.merge(short)  # a shorter one merges into the front
    assert b.ttj_hist[25] == 1 and len(b.ttj_hist) == len(long_.ttj_hist)


def test_a_summary_at_a_lower_level_is_narrower_around_the_same_mean():
    from model.results.metrics import summarise

    rows = pd.DataFrame({"replication": range(6), "scope": "overall", "key": "all",
                         "metric": "time_to_join_mean", "value": [10.0, 12.0, 9.0, 14.0, 11.0, 13.0]})
    s95 = summarise(rows).iloc[0]
    s80 = summarise(rows, level=0.80).iloc[0]
    assert s95["mean"] == s80["mean"] == 11.5
    assert s80["ci_low"] > s95["ci_low"] and s80["ci_high"] < s95["ci_high"]
    half = stats.t.ppf(0.90, 5) * np.std(rows.value, ddof=1) / np.sqrt(6)
    assert s80["ci_high"] - s80["mean"] == pytest.approx(half)
