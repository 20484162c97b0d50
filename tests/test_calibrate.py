"""Calibration: a scenario read off a contact log (docs/calibrate.md).

The round trip simulates a scenario with known parameters (a staffing profile, transfers, lognormal
handle time and patience), exports its contacts in the log format, calibrates, and checks that the
numbers come back within their statistical tolerance. The other tests are hostile and boundary logs.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model import scenario_from_dict, simulate
from model.calibration import Calibration, CalibrationError, calibrate, fit_durations
from model.logs import clean_log, contacts_log
from model.scenario import load_scenario

DAYS = 10
ARRIVALS = [["00:00", 10], ["08:00", 60], ["12:00", 90], ["17:00", 40], ["21:00", 10]]
FRONT = [["00:00", 1], ["08:00", 5], ["12:00", 7], ["17:00", 4], ["21:00", 1]]
HANDLE_MEAN, HANDLE_CV = 360.0, 0.8
PATIENCE_MEAN, PATIENCE_CV = 300.0, 1.0
P_BILLING = 0.15


def step_value(profile: list[list], hour: int) -> float:
    return [v for clock, v in profile if int(clock[:2]) <= hour][-1]


KNOWN = {
    "simulation": {"horizon": "24h", "warmup": 0, "replications": DAYS, "seed": 3, "start": "00:00"},
    "services": [{"name": "support", "entry_group": "front", "transfer_timeout": 90,
                  "arrivals": {"kind": "poisson", "profile": ARRIVALS},
                  "patience": {"kind": "lognormal", "mean": PATIENCE_MEAN, "cv": PATIENCE_CV},
                  "transfer_patience": {"kind": "exponential", "mean": 120}}],
    "groups": [
        {"name": "front", "agents": {"profile": FRONT}, "max_concurrent": 2,
         "handle_time": {"kind": "lognormal", "mean": HANDLE_MEAN, "cv": HANDLE_CV},
         "transfers": [{"to": "billing", "probability": P_BILLING}]},
        {"name": "billing", "agents": 2, "handle_time": {"kind": "gamma", "mean": 400, "cv": 0.7}},
    ],
}


@pytest.fixture(scope="module")
def round_trip() -> Calibration:
    result = simulate(scenario_from_dict(KNOWN), keep_events=True)
    contacts, transfers = contacts_log(result)
    return calibrate(clean_log(contacts, transfers=transfers, source="simulated"), "1h", name="roundtrip")


# -- the round trip -------------------------------------------------------------------------------
def test_round_trip_recovers_the_arrival_profile_within_poisson_tolerance(round_trip: Calibration) -> None:
    a = round_trip.arrivals
    assert (a["days"] == DAYS).all()
    truth = np.array([step_value(ARRIVALS, h) for h in range(24)])
    # each hour's exact 95 % Poisson interval holds the true rate, but for the odd miss (24 intervals)
    inside = (a["low"].to_numpy() <= truth) & (truth <= a["high"].to_numpy())
    assert inside.sum() >= 22, a[~inside]
    assert abs(a["contacts"].sum() / (truth.sum() * DAYS) - 1) < 0.03
    profile = round_trip.scenario.service("support").arrivals.profile
    assert len(profile) == 24


def test_round_trip_recovers_the_handle_time_family_and_mean(round_trip: Calibration) -> None:
    fit = round_trip.fits["handle_time front"]
    assert fit.chosen == "lognormal"
    sigma = math.sqrt(math.log(1 + HANDLE_CV**2))
    c = fit.candidate("lognormal")
    se_mean = HANDLE_MEAN * HANDLE_CV / math.sqrt(fit.n)
    assert abs(c.mean - HANDLE_MEAN) < 3 * se_mean
    assert abs(c.params["sigma"] - sigma) < 3 * sigma / math.sqrt(2 * fit.n)
    ht = round_trip.scenario.group("front").handle_time
    assert ht.kind == "lognormal" and abs(ht.mean - c.mean) < 0.01


def test_round_trip_patience_kaplan_meier_undoes_the_naive_bias(round_trip: Calibration) -> None:
    fit = round_trip.fits["patience support"]
    km = round_trip.km["patience support"]
    sigma = math.sqrt(math.log(1 + PATIENCE_CV**2))
    true_median = PATIENCE_MEAN / math.sqrt(1 + PATIENCE_CV**2)  # exp(mu)
    assert fit.chosen in ("lognormal", "gamma", "weibull")
    c = fit.candidate("lognormal")
    # ~140 abandonments: the median within 20 %, the mean within 25 %
    assert abs(math.exp(c.params["mu"]) / true_median - 1) < 0.2
    assert abs(c.mean / PATIENCE_MEAN - 1) < 0.25
    assert abs(c.params["sigma"] / sigma - 1) < 0.25
    # the abandoners' own waits are a poor patience: biased low by more than half
    assert km.naive_mean < 0.5 * PATIENCE_MEAN
    assert math.isfinite(km.median) and km.median > 1.5 * km.naive_mean
    assert (np.diff(km.survival) <= 1e-12).all() and (km.lower <= km.survival + 1e-12).all()


def test_round_trip_staffing_from_activity_matches_the_true_profile(round_trip: Calibration) -> None:
    s = round_trip.staffing[round_trip.staffing["group"] == "front"]
    truth = np.array([step_value(FRONT, h) for h in range(24)])
    present = s["present_agents"].to_numpy()
    # measured bias: within 0.35 agent of the truth in every hour (low where a shift starts and the
    # agents take their first chats, high the hour a shift ends), and the written count exact
    assert np.abs(present - truth).max() < 0.35, present
    assert np.abs(present - truth).mean() < 0.15
    assert (s["written"].to_numpy() == truth).all()
    # the naive figures: busy time alone 20-30 % low, distinct agents seen high where shifts end
    assert (s["busy_agents"].to_numpy() < truth).all()
    assert s["seen_agents"].iloc[17] > truth[17] + 1
    assert round_trip.scenario.group("front").max_concurrent == 2


def test_round_trip_transfer_probability_within_binomial_tolerance(round_trip: Calibration) -> None:
    t = round_trip.transfers
    row = t[(t["group"] == "front") & (t["target"] == "billing")].iloc[0]
    assert abs(row["probability"] - P_BILLING) < 3 * math.sqrt(P_BILLING * (1 - P_BILLING) / row["legs"])
    assert round_trip.scenario.service("support").transfer_timeout == 90
    rule = round_trip.scenario.group("front").transfers[0]
    assert rule.to == "billing" and abs(rule.probability - row["probability"]) < 1e-4
    tp = round_trip.fits["transfer_patience support"]
    assert tp.chosen is not None and abs(tp.candidate("exponential").mean / 120 - 1) < 0.3


def test_the_written_scenario_loads_runs_and_says_where_numbers_came_from(round_trip: Calibration, tmp_path) -> None:
    path = tmp_path / "roundtrip.toml"
    path.write_text(round_trip.toml())
    sc = load_scenario(path)
    assert sc == round_trip.scenario
    text = round_trip.toml()
    for words in ("Kaplan-Meier", "AIC", "n = ", "contacts over 10 day(s)", "present", "legs; standard error"):
        assert words in text, words
    r = simulate(sc.with_changes({"simulation.replications": 1}), keep_events=False)
    assert r is not None


# -- fits -----------------------------------------------------------------------------------------
def test_weibull_handle_times_win_the_aic_and_are_written_as_the_documented_substitute() -> None:
    rng = np.random.default_rng(5)
    x = 300 * rng.weibull(1.7, 2000)
    fit = fit_durations("handle_time g", x, allow_empirical=True)
    assert fit.best == fit.chosen == "weibull"
    assert fit.written["kind"] == "empirical" and len(fit.written["values"]) == 201
    assert "no weibull kind" in fit.note
    dist = scenario_from_dict({**_one_group({"kind": "empirical", "values": fit.written["values"]})}).group("g").handle_time
    assert abs(dist.mean / fit.candidate("weibull").mean - 1) < 0.02


def test_censored_fits_recover_a_gamma_patience() -> None:
    rng = np.random.default_rng(9)
    p = rng.gamma(2.0, 150.0, 4000)
    c = rng.exponential(250.0, 4000)
    fit = fit_durations("patience s", np.minimum(p, c), p <= c)
    assert fit.chosen == "gamma"
    assert abs(fit.candidate("gamma").mean / 300 - 1) < 0.08


def test_a_mixture_far_from_every_family_is_written_as_the_data_itself() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(60, 5, 1500), rng.normal(900, 40, 1500)])
    fit = fit_durations("handle_time g", x, allow_empirical=True)
    assert fit.chosen == "empirical" and fit.extra["ks_distance"] > 0.05


# -- hostile and boundary logs --------------------------------------------------------------------
def _one_group(handle: dict) -> dict:
    return {"simulation": {"horizon": "1h"}, "services": [{"name": "s", "entry_group": "g",
            "arrivals": {"rate_per_hour": 1}}], "groups": [{"name": "g", "agents": 1, "handle_time": handle}]}


def synthetic_log(n: int = 400, days: int = 2, abandon: bool = True, seed: int = 1, agents: bool = True) -> pd.DataFrame:
    """A hand-made log: arrivals 08:00-18:00, lognormal handle times, a few abandonments."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, n)
    arrived = day * 86400 + rng.uniform(8 * 3600, 18 * 3600, n)
    wait = rng.exponential(30, n)
    left = rng.random(n) < 0.1 if abandon else np.zeros(n, bool)
    handle = rng.lognormal(5.5, 0.6, n)
    answered = np.where(left, np.nan, arrived + wait)
    ended = np.where(left, arrived + wait, answered + handle)
    frame = pd.DataFrame({"contact_id": [f"c{i}" for i in range(n)], "service": "chat", "group": "g",
                          "arrived": arrived, "answered": answered, "ended": ended})
    if agents:
        frame["agent"] = np.where(left, None, [f"a{i % 4}" for i in range(n)])
    return frame


def test_no_abandonment_leaves_patience_out_and_says_so() -> None:
    cal = calibrate(synthetic_log(abandon=False))
    assert cal.scenario.service("chat").patience is None
    assert cal.fits["patience chat"].chosen is None
    assert "patience cannot be fitted and is left out" in cal.toml()


def test_no_served_contact_is_refused_with_the_reason() -> None:
    frame = synthetic_log()
    frame["answered"] = np.nan
    frame["ended"] = frame["arrived"] + 20
    with pytest.raises(CalibrationError, match="no contact was answered"):
        calibrate(frame)


def test_one_day_and_one_contact_still_give_a_valid_scenario() -> None:
    one_day = calibrate(synthetic_log(days=1))
    assert one_day.log.days == 1 and one_day.arrivals["days"].max() == 1
    assert "not covered by the log" in one_day.toml()
    single = calibrate(synthetic_log(n=1, abandon=False))
    ht = single.fits["handle_time g"]
    assert ht.chosen == "exponential" and [c.kind for c in ht.candidates] == ["exponential"]
    assert single.scenario.service("chat").patience is None


def test_a_log_without_agents_staffs_from_chat_time_and_says_so() -> None:
    cal = calibrate(synthetic_log(agents=False))
    assert "no agent named in its legs: 1 assumed" in cal.toml()
    s = cal.staffing
    assert (s["busy_agents"] == 0).all() and s["unnamed_agents"].max() > 0


def test_timestamps_give_the_same_calibration_as_seconds() -> None:
    frame = synthetic_log()
    stamps = frame.copy()
    base = pd.Timestamp("2024-03-04")
    for col in ("arrived", "answered", "ended"):
        stamps[col] = (base + pd.to_timedelta(frame[col], unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        stamps.loc[frame[col].isna(), col] = None
    a, b = calibrate(frame), calibrate(stamps)
    assert a.scenario == b.scenario


def test_an_empty_log_and_a_bad_interval_are_refused() -> None:
    with pytest.raises(CalibrationError, match="no contacts"):
        calibrate(synthetic_log().iloc[0:0])
    with pytest.raises(CalibrationError, match="interval"):
        calibrate(synthetic_log(), "7m")


def test_the_toml_text_parses_to_the_scenario() -> None:
    cal = calibrate(synthetic_log())
    assert scenario_from_dict(tomllib.loads(cal.toml()), name="calibrated") == cal.scenario


def test_the_calibrated_week_backtests_within_chance() -> None:
    """The whole loop on the example week (a real-looking log, messy rows included): calibrate, run
    the calibrated scenario hour by hour, backtest it against the log. Intervals outside the
    prediction interval: no more often than chance allows at 95 % (generously, 15 %)."""
    import model

    logs = Path(__file__).resolve().parents[1] / "examples" / "logs"
    log = model.read_log(logs / "week.csv", transfers=logs / "week-transfers.csv")
    cal = model.calibrate(log, interval="1h")
    run = model.simulate(cal.scenario, interval="1h", keep_events=False)
    bt = model.backtest(log, run)
    overall = bt.table[bt.table.scope == "overall"]
    assert len(overall) >= 40
    assert overall["outside"].mean() <= 0.15, overall.loc[overall["outside"], ["interval", "metric"]]
    s = bt.summary.set_index(["metric", "scope", "key"])
    assert abs(s.loc[("queue_abandonment_rate", "overall", "all"), "error"]) < 2.0  # points
    assert abs(s.loc[("service_level", "overall", "all"), "error"]) < 5.0
