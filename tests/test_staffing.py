"""Staffing over the day (LIFECYCLE.md): rotas, shifts, the ``withdraw`` event, targets with nobody
on shift, zero-length timers, and figures per interval of the clock, checked against the event log
and against Erlang A per interval."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from model import simulate
from model.analytic import erlang_a
from model.scenario import ScenarioError, scenario_from_dict
from model.scenario.staffing import DAY, Shifts
from model.sim.intervals import interval_label, interval_seconds


def centre(agents: Any = 4, *, rate: float = 60.0, horizon: str = "24h", start: str = "00:00", warmup: str = "0s",
           replications: int = 4, handle: str = "3m", patience: str | None = "2m", transfers: list | None = None,
           named: list | None = None, services: dict | None = None, groups: list | None = None) -> dict[str, Any]:
    """A one-group centre (``front``) plus whatever ``groups``/``named`` add."""
    svc = {"name": "chat", "entry_group": "front", "arrivals": {"rate_per_hour": rate}, **(services or {})}
    if patience is not None:
        svc["patience"] = {"kind": "exponential", "mean": patience}
    return {
        "name": "staffing",
        "simulation": {"horizon": horizon, "warmup": warmup, "replications": replications, "seed": 11, "start": start},
        "services": [svc],
        "groups": [{"name": "front", "agents": agents, "handle_time": {"kind": "exponential", "mean": handle},
                    "transfers": transfers or []}, *(groups or [])],
        "agents": named or [],
    }


def fig(result, metric: str, scope: str = "service", key: str = "chat") -> pd.Series:
    iv = result.intervals
    rows = iv[(iv.scope == scope) & (iv.key == key) & (iv.metric == metric)]
    return rows.set_index("interval")["mean"]


# -- the scenario's staffing ----------------------------------------------------------------------
def test_a_profile_gives_each_anonymous_agent_its_windows() -> None:
    sc = scenario_from_dict(centre({"profile": [["06:00", 1], ["09:00", 3], ["17:00", 2], ["22:00", 0]]}))
    front = sc.group("front")
    assert front.anonymous_agents() == ["front-1", "front-2", "front-3"]
    hours = [sc.shifts()[a].hours_per_day for a in front.anonymous_agents()]
    assert hours == [16.0, 13.0, 8.0]  # front-3 works 09-17 only: the highest number goes off first
    assert [len(sc.on_shift("front", h * 3600.0)) for h in (3, 7, 12, 20, 23)] == [0, 1, 3, 2, 0]


def test_a_profile_starting_after_midnight_wraps_like_arrivals() -> None:
    sc = scenario_from_dict(centre({"profile": [["08:00", 2], ["20:00", 1]]}))
    assert [len(sc.on_shift("front", h * 3600.0)) for h in (2, 9, 21)] == [1, 2, 1]


@pytest.mark.parametrize(("shifts", "on", "off"), [
    ([["08:00", "16:30"]], [8, 16.4], [7.9, 16.5, 23]),
    ([["22:00", "06:00"]], [22, 23.9, 0, 5.9], [6, 12, 21.9]),
    ([["08:00", "12:00"], ["13:00", "17:00"]], [8, 13, 16.9], [12, 12.5, 17]),
    ([["00:00", "23:59"]], [0, 12, 23.98], [23.99]),
])
def test_shifts_are_clock_windows_and_cross_midnight(shifts, on, off) -> None:
    sh = Shifts.from_clock(shifts)
    assert all(sh.on_at(h * 3600) for h in on) and not any(sh.on_at(h * 3600) for h in off)


def test_shift_changes_in_simulated_time_merge_across_midnight() -> None:
    sh = Shifts.from_clock([["22:00", "02:00"]])
    on0, changes = sh.changes(start_clock=20 * 3600.0, end=2 * DAY)
    assert on0 is False
    assert changes == [(7200.0, True), (21600.0, False), (93600.0, True), (108000.0, False)]
    on0, changes = Shifts.from_clock([["00:00", "12:00"], ["12:00", "23:00"]]).changes(0.0, DAY)
    assert (on0, changes) == (True, [(23 * 3600.0, False)])  # 12:00 is no change at all
    assert Shifts.from_clock(None).changes(0.0, DAY) == (True, [])
    assert sh.on_time(20 * 3600.0, 0.0, DAY) == 4 * 3600.0


# -- runs with a rota -----------------------------------------------------------------------------
def test_abandonment_rises_in_an_understaffed_hour_and_falls_in_a_well_staffed_one() -> None:
    # 60 contacts an hour of 3 min each: 3 erlangs; 2 agents at lunch, 6 the rest of the morning
    sc = centre({"profile": [["08:00", 6], ["12:00", 2], ["13:00", 6], ["15:00", 0]]}, horizon="7h", start="08:00",
                replications=6)
    r = simulate(scenario_from_dict(sc), interval="1h", keep_events=False)
    q = fig(r, "queue_abandonment_rate")
    staffed = fig(r, "staffed_agents", "group", "front")
    assert list(q.index) == ["08:00", "09:00", "10:00", "11:00", "12:00", "13:00", "14:00"]
    assert staffed["12:00"] == 2 and staffed["11:00"] == 6 == staffed["13:00"]
    assert q["12:00"] > 0.3 and q["11:00"] < 0.05 and q["14:00"] < 0.05
    lunch = r.intervals.query("scope == 'service' and metric == 'queue_abandonment_rate' and interval == '12:00'")
    morning = r.intervals.query("scope == 'service' and metric == 'queue_abandonment_rate' and interval == '10:00'")
    assert float(lunch.ci_low.iloc[0]) > float(morning.ci_high.iloc[0])
    sl = fig(r, "service_level")
    assert sl["12:00"] < 0.5 < 0.9 < sl["10:00"]
    assert fig(r, "wait_mean")["12:00"] > 5 * fig(r, "wait_mean")["10:00"]
    # staffed_agents overall: the day's average of the rota over the run
    assert r.metric("staffed_agents", "group", "front")[0] == pytest.approx((4 * 6 + 2 + 2 * 6) / 7)


def test_a_target_with_nobody_on_shift_at_night_expires_transfers_at_night_only() -> None:
    night_and_day = centre(
        4, rate=20.0, replications=3, horizon="24h",
        transfers=[{"to": "experts", "probability": 0.5}],
        services={"transfer_timeout": "2m"},
        groups=[{"name": "experts", "agents": {"profile": [["00:00", 0], ["08:00", 3], ["18:00", 0]]},
                 "handle_time": {"kind": "exponential", "mean": "3m"}}])
    r = simulate(scenario_from_dict(night_and_day), interval="1h")
    t = r.transfers
    hour = ((t.requested_at // 3600) % 24).astype(int)
    at_night = t[(hour < 8) | (hour >= 18)]
    by_day = t[(hour >= 8) & (hour < 17)]
    assert len(at_night) > 50 and len(by_day) > 50
    assert (at_night.outcome == "transfer_expired").mean() > 0.95
    assert (by_day.outcome == "transfer_expired").mean() < 0.1
    expired = fig(r, "transfer_abandonment_rate", "target", "experts")
    assert expired["03:00"] == 1.0 and expired["12:00"] < 0.1
    # nobody on shift: the transfer was taken and waited in routing, never offered
    ev = r.events
    night_offers = ev[(ev.event == "offer") & (ev.group == "experts") & (((ev.time // 3600) % 24) < 8)]
    assert night_offers.empty


def test_a_queue_with_nobody_on_shift_waits_and_is_served_when_the_shift_starts() -> None:
    sc = centre({"profile": [["00:00", 0], ["01:00", 2]]}, rate=10.0, horizon="2h", patience=None, replications=1,
                services={"patience": {"kind": "constant", "value": "3h"}})
    r = simulate(scenario_from_dict(sc))
    ev = r.events
    assigned = ev[ev.event == "assign"]
    assert not assigned.empty and assigned.time.min() == 3600.0  # the first assign: at the shift start
    assert "abandoned_queue" not in set(ev.to_state[ev.time < 3600])


def test_an_agent_keeps_its_chats_after_its_shift_and_takes_no_new_one() -> None:
    sc = centre(0, rate=30.0, horizon="3h", patience=None, handle="40m", replications=1,
                named=[{"name": "ann", "groups": ["front"], "max_concurrent": 3, "shifts": [["00:00", "01:00"]]},
                       {"name": "bob", "groups": ["front"], "max_concurrent": 3}])
    ev = simulate(scenario_from_dict(sc)).events
    ann = ev[ev.agent == "ann"]
    assert (ann[ann.event == "assign"].time < 3600).all()
    assert (ann[ann.event == "close"].time > 3600).any()  # chats held at 01:00 go on to their end
    assert ev[ev.event == "close"].shape[0] > 0


def test_an_offer_outstanding_at_the_end_of_a_shift_is_withdrawn_and_offered_again_next_shift() -> None:
    sc = centre(2, rate=6.0, horizon="4h", patience=None, replications=2,
                transfers=[{"to": "agent:zoe", "probability": 1.0}],
                services={"transfer_timeout": "3h"},
                named=[{"name": "zoe", "groups": ["experts"], "shifts": [["00:00", "01:00"], ["02:00", "04:00"]]}],
                groups=[{"name": "experts", "agents": 0, "handle_time": {"kind": "constant", "value": "1m"},
                         "accept_delay": {"kind": "constant", "value": "50m"}}])
    r = simulate(scenario_from_dict(sc))
    ev = r.events
    withdrawn = ev[ev.event == "withdraw"]
    assert not withdrawn.empty and (withdrawn.time == 3600.0).all() and (withdrawn.agent == "zoe").all()
    assert (withdrawn.to_state == "routing").all()
    for (rep, cid) in withdrawn[["replication", "contact"]].itertuples(index=False):
        later = ev[(ev.replication == rep) & (ev.contact == cid) & (ev.time > 3600)]
        # not excluded (unlike reject): offered to zoe again when her next shift starts
        assert later.event.iloc[0] == "offer" and later.time.iloc[0] == 7200.0 and later.agent.iloc[0] == "zoe"
    assert r.metric("transfers_requested", "target", "agent:zoe")[0] > 0
    assert r.per_replication.query("metric == 'withdrawals'").empty  # a count behind the figures, not a figure


def test_a_zero_transfer_timeout_expires_every_transfer_before_any_offer() -> None:
    sc = centre(4, rate=30.0, horizon="2h", replications=2, transfers=[{"to": "back", "probability": 0.5}],
                services={"transfer_timeout": 0},
                groups=[{"name": "back", "agents": 3, "handle_time": {"kind": "exponential", "mean": "2m"}}])
    r = simulate(scenario_from_dict(sc))
    assert len(r.transfers) > 20
    assert (r.transfers.outcome == "transfer_expired").all() and (r.transfers.offers == 0).all()
    assert (r.transfers.ended_at == r.transfers.requested_at).all()
    assert "offer" not in set(r.events.event)


def test_a_zero_dissuasion_timeout_dissuades_every_contact_on_arrival() -> None:
    sc = centre(4, rate=30.0, horizon="1h", replications=1, services={"dissuasion_timeout": "0s"})
    ev = simulate(scenario_from_dict(sc)).events
    arrivals = ev[ev.event == "arrive"]
    dissuaded = ev[ev.event == "dissuade"]
    assert len(arrivals) > 10 and len(dissuaded) == len(arrivals)
    assert "assign" not in set(ev.event)


# -- figures per interval -----------------------------------------------------------------------------
def test_interval_counts_add_up_to_the_whole_run() -> None:
    sc = centre({"profile": [["00:00", 3], ["01:30", 1]]}, rate=80.0, horizon="3h", warmup="20m", start="07:10",
                replications=3, transfers=[{"to": "back", "probability": 0.3}],
                groups=[{"name": "back", "agents": {"profile": [["00:00", 1], ["08:00", 0], ["09:00", 2]]},
                         "handle_time": {"kind": "exponential", "mean": "2m"}}])
    r = simulate(scenario_from_dict(sc), interval="30m")
    pri = r.per_replication_intervals
    # the run covers 07:30 (after the warm-up) to 10:10: intervals from 07:30 to 10:00
    assert sorted(pri.interval.unique()) == ["07:30", "08:00", "08:30", "09:00", "09:30", "10:00"]
    for scope, key in (("service", "chat"), ("overall", "all"), ("target", "back")):
        for metric in ("arrivals", "completed", "transfers_requested", "transfers_accepted", "transfer_expired"):
            whole = r.per_replication.query("scope == @scope and key == @key and metric == @metric")
            if whole.empty:
                continue
            parts = pri.query("scope == @scope and key == @key and metric == @metric").groupby("replication").value.sum()
            assert parts.tolist() == whole.set_index("replication").value.tolist(), (scope, key, metric)


def test_staffing_and_occupancy_per_interval_follow_the_rota() -> None:
    sc = centre({"profile": [["00:00", 2], ["02:00", 5]]}, rate=40.0, horizon="4h", replications=2)
    r = simulate(scenario_from_dict(sc), interval="1h")
    staffed = fig(r, "staffed_agents", "group", "front")
    assert staffed.tolist() == [2.0, 2.0, 5.0, 5.0]
    occ = fig(r, "agent_occupancy", "group", "front")
    assert ((occ > 0) & (occ <= 1)).all() and occ["00:00"] > occ["03:00"]


def test_several_days_add_the_same_hour_together() -> None:
    sc = centre(3, rate=30.0, horizon="2d", replications=1)
    r = simulate(scenario_from_dict(sc), interval="6h", keep_events=False)
    arrivals = fig(r, "arrivals")
    assert list(arrivals.index) == ["00:00", "06:00", "12:00", "18:00"]
    assert arrivals.sum() == r.metric("arrivals", "service", "chat")[0]
    assert arrivals.min() > 250  # two days of six hours at 30 an hour: about 360 each


def test_intervals_do_not_change_the_run() -> None:
    sc = scenario_from_dict(centre({"profile": [["00:00", 2], ["00:40", 4]]}, rate=90.0, horizon="2h",
                                   replications=2))
    plain = simulate(sc)
    by_hour = simulate(sc, interval="15m")
    pd.testing.assert_frame_equal(plain.events, by_hour.events)
    pd.testing.assert_frame_equal(plain.metrics, by_hour.metrics)
    assert plain.intervals is None and by_hour.intervals is not None
    assert set(by_hour.intervals.columns) == {"interval", "scope", "key", "metric", "mean", "ci_low", "ci_high", "n"}
    assert by_hour.to_dict()["intervals"][0].keys() == {"interval", "scope", "key", "metric", "mean", "ci95"}


@pytest.mark.parametrize(("value", "seconds"), [("15m", 900.0), ("1h", 3600.0), (3600, 3600.0), ("24h", DAY),
                                                 ("1m", 60.0), ("90m", 5400.0)])
def test_interval_lengths_divide_the_day(value, seconds) -> None:
    assert interval_seconds(value) == seconds


@pytest.mark.parametrize("value", ["7m", "0", 0, "-1h", "abc", "30s", "25h", "1.5m", True, None])
def test_bad_interval_lengths_are_refused_with_the_allowed_values(value) -> None:
    with pytest.raises(ValueError, match="15m, 30m, 1h"):
        interval_seconds(value)


def test_a_bad_interval_fails_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="divides 24 h"):
        simulate(scenario_from_dict(centre(2, horizon="1h")), interval="7m")


def test_interval_labels() -> None:
    assert [interval_label(k, 900.0) for k in (0, 1, 4, 95)] == ["00:00", "00:15", "01:00", "23:45"]


# -- theory per interval ----------------------------------------------------------------------------------
def test_each_long_interval_matches_erlang_a_with_its_own_staffing() -> None:
    """Six-hour blocks of 4, 7 and 5 agents (and 10 after 18:00) at one arrival rate: each block
    reaches steady state within minutes, so its queue abandonment is Erlang A with its own n."""
    lam, handle, patience = 90.0, 180.0, 120.0  # per hour; seconds
    sc = centre({"profile": [["00:00", 4], ["06:00", 7], ["12:00", 5], ["18:00", 10]]}, rate=lam, handle="3m",
                patience="2m", replications=8)
    r = simulate(scenario_from_dict(sc), interval="6h", keep_events=False)
    iv = r.intervals.query("scope == 'service' and metric == 'queue_abandonment_rate'").set_index("interval")
    for label, n in (("00:00", 4), ("06:00", 7), ("12:00", 5), ("18:00", 10)):
        theory = erlang_a(n, lam / 60.0, 60.0 / handle, 60.0 / patience).p_abandon
        row = iv.loc[label]
        half = max(row["ci_high"] - row["mean"], 0.004)
        # each block starts from the previous block's queue; that transient lasts minutes of six hours
        assert abs(row["mean"] - theory) <= 1.5 * half, (label, n, row["mean"], theory, half)  # about a 99 % t interval


def test_a_scenario_with_a_profile_refuses_bad_staffing_with_the_field_and_allowed_values() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(centre({"profile": [["08:00", 2], ["08:00", 3]]}), source="day.toml")
    text = str(info.value)
    assert "day.toml: groups.front.agents.profile" in text and "strictly increasing" in text
    with pytest.raises(ScenarioError, match="overlaps shift 0"):
        scenario_from_dict(centre(1, named=[{"name": "ann", "groups": ["front"],
                                             "shifts": [["08:00", "12:00"], ["11:00", "13:00"]]}]))
    assert math.isfinite(scenario_from_dict(centre({"profile": [["00:00", 0], ["09:00", 1]]})).simulation.horizon)
