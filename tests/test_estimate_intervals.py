"""The analytic estimate per interval of the day (``estimate(scenario, by=...)``), with the
scenario's real patience (M/M/n+G), and ``transfer-sim estimate --by / --simulate``.

Semantics under test (docs/estimate.md): an interval's arrival rate is its expected
arrivals over its length; within an interval each stretch of constant rates and staffing is its
own steady state, weighted by its expected contacts; nobody on shift while contacts arrive gives
p_abandon 1.0; no contacts give NaN rows (kept, so every interval has the same rows).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import integrate, stats
from typer.testing import CliRunner

from model.analytic import erlang_a, mmn_d, mmn_d_exp, mmng
from model.cli import app
from model.estimate import ESTIMATE_COLUMNS, ESTIMATE_INTERVAL_COLUMNS, _partial_mean, estimate
from model.estimate_intervals import agents_on_shift, by_interval, compare, staffing_at, stretches
from model.scenario import Distribution, Scenario, scenario_from_dict
from model.scenario.staffing import DAY

from helpers import SCENARIOS

NUMERIC = ["servers", "handle_mean_s", "entry_per_hour", "transfers_in_per_hour", "offered_erlangs", "rho",
           "queue_p_abandon", "transfer_timeout_s", "transfer_p_abandon"]


def centre_data(**sim: Any) -> dict[str, Any]:
    """A front group (6 x 1 slot) transferring 20 % to a back group (2 x 1), flat 60 contacts/h, a day."""
    return {
        "name": "centre",
        "simulation": {"horizon": "24h", "warmup": 0, "replications": 2, "seed": 3, **sim},
        "services": [{"name": "chat", "entry_group": "front", "transfer_timeout": "60s",
                      "arrivals": {"kind": "poisson", "rate_per_hour": 60},
                      "patience": {"kind": "exponential", "mean": "3m"},
                      "transfer_patience": {"kind": "exponential", "mean": "2m"}}],
        "groups": [
            {"name": "front", "agents": 6, "handle_time": {"kind": "exponential", "mean": "5m"},
             "transfers": [{"to": "back", "probability": 0.2}]},
            {"name": "back", "agents": 2, "handle_time": {"kind": "exponential", "mean": "6m"}},
        ],
    }


def centre(changes: dict[str, Any] | None = None, **sim: Any) -> Scenario:
    sc = scenario_from_dict(centre_data(**sim))
    return sc.with_changes(changes) if changes else sc


def row(df: pd.DataFrame, interval: str, group: str) -> pd.Series:
    sel = df[(df.interval == interval) & (df.group == group)]
    assert len(sel) == 1, (interval, group, df)
    return sel.iloc[0]


# -- intervals of a flat scenario ---------------------------------------------------------------------
@pytest.mark.parametrize(("by", "count"), [(3600, 24), ("30m", 48), (86400.0, 1), (15 * 60, 96)])
def test_a_flat_scenario_gives_the_whole_window_figures_in_every_interval(by, count):
    sc = centre()
    whole = estimate(sc)
    per = estimate(sc, by=by)
    assert list(per.columns) == ESTIMATE_INTERVAL_COLUMNS and list(whole.columns) == ESTIMATE_COLUMNS
    assert per.interval.nunique() == count and len(per) == count * len(whole)
    for label, block in per.groupby("interval"):
        block = block.drop(columns="interval").reset_index(drop=True)
        pd.testing.assert_frame_equal(block[NUMERIC], whole[NUMERIC], check_dtype=False, rtol=1e-9)
        assert list(block.queue_model) == list(whole.queue_model) == ["M/M/6+M", "-"]
        assert list(block.transfer_model) == list(whole.transfer_model) == ["-", "M/M/2+(D,exp)"]
    assert 0 < whole.queue_p_abandon[0] < 1 and 0 < whole.transfer_p_abandon[1] < 1
    assert not any("Averaged" in a for a in per.attrs["assumptions"] + whole.attrs["assumptions"])


def test_the_whole_window_of_a_single_group_is_erlang_a_exactly():
    df = estimate(scenario_from_dict({**centre_data(), "groups": [
        {"name": "front", "agents": 6, "handle_time": {"kind": "exponential", "mean": "5m"}}]}))
    assert df.queue_p_abandon[0] == pytest.approx(erlang_a(6, 1.0, 0.2, 1 / 3).p_abandon, rel=1e-12)


def test_intervals_follow_the_measured_window_from_its_start_across_midnight():
    # clock 22:00 + 1 h warm-up: the window is 23:00-02:00; intervals in the order the run meets them
    sc = centre(start="22:00", warmup="1h", horizon="3h")
    per = estimate(sc, by="1h")
    assert list(dict.fromkeys(per.interval)) == ["23:00", "00:00", "01:00"]
    assert sum(p.seconds for p in stretches(sc, "1h")) == 3 * 3600 == sum(p.seconds for p in stretches(sc))
    # a window starting and ending inside intervals: the partial first and last ones are kept
    per = estimate(centre(start="08:10", horizon="2h"), by=3600)
    assert list(dict.fromkeys(per.interval)) == ["08:00", "09:00", "10:00"]
    # a window longer than a day folds onto one clock day: every interval once
    sc = centre(start="05:00", horizon="50h")
    per = estimate(sc, by="6h")
    assert list(dict.fromkeys(per.interval)) == ["00:00", "06:00", "12:00", "18:00"]
    covered = {label: sum(p.seconds for p in group) for label, group in by_interval(stretches(sc, "6h"))}
    # clock 05:00 of day 0 to 07:00 of day 2: 1 h + 6 h + 6 h of 00:00-06:00, 6 h + 6 h + 1 h of 06:00-12:00
    assert covered == {"00:00": 13 * 3600, "06:00": 13 * 3600, "12:00": 12 * 3600, "18:00": 12 * 3600}


def test_the_entry_rate_of_an_interval_is_its_expected_arrivals_over_its_length():
    profile = [["00:00", 30], ["08:20", 600], ["17:45", 90], ["22:00", 0]]
    sc = centre({"services.chat.arrivals": {"kind": "poisson", "profile": profile}}, start="06:00", warmup="30m")
    per = estimate(sc, by="1h")
    arrivals = sc.services[0].arrivals
    start, t_end = 6 * 3600.0, 1800.0 + 86400.0
    for label in per.interval.unique():
        h = int(label[:2])
        t0 = (h * 3600.0 - start) % DAY  # the interval's first occurrence in simulated time
        pieces = [(max(t0, 1800.0), t0 + 3600.0), (t0 + DAY, min(t0 + DAY + 3600.0, t_end))]
        pieces = [(a, b) for a, b in pieces if b > a and a >= 1800.0]
        expected = sum(arrivals.expected_arrivals(a, b) for a, b in pieces)
        seconds = sum(b - a for a, b in pieces)
        assert row(per, label, "front").entry_per_hour == pytest.approx(expected / seconds * 3600, rel=1e-9), label
    # the whole-window figure is the window's mean rate
    whole = estimate(sc)
    assert whole.entry_per_hour[0] == pytest.approx(arrivals.expected_arrivals(1800.0, t_end) / 86400 * 3600)


# -- staffing over the day -------------------------------------------------------------------------------
def test_an_understaffed_hour_abandons_more_than_the_hours_around_it():
    sc = centre({"groups.front.agents": {"profile": [["00:00", 6], ["12:00", 3], ["13:00", 6]]}})
    per = estimate(sc, by="1h")
    flat = estimate(centre())
    noon, before, after = (row(per, h, "front") for h in ("12:00", "11:00", "13:00"))
    assert noon.servers == 3 and noon.queue_model == "M/M/3+M"
    assert noon.queue_p_abandon > 3 * before.queue_p_abandon
    assert noon.queue_p_abandon == pytest.approx(erlang_a(3, 1.0, 0.2, 1 / 3).p_abandon, rel=1e-9)
    assert before.queue_p_abandon == pytest.approx(flat.queue_p_abandon[0], rel=1e-9) == after.queue_p_abandon
    # fewer contacts handled at noon: fewer transfers reach back
    assert row(per, "12:00", "back").transfers_in_per_hour < row(per, "11:00", "back").transfers_in_per_hour


def test_a_busy_hour_of_the_arrival_profile_abandons_more():
    profile = [["00:00", 60], ["10:00", 150], ["11:00", 60]]
    per = estimate(centre({"services.chat.arrivals": {"kind": "poisson", "profile": profile}}), by="1h")
    busy, before = row(per, "10:00", "front"), row(per, "09:00", "front")
    assert busy.queue_p_abandon > 3 * before.queue_p_abandon
    assert busy.queue_p_abandon == pytest.approx(erlang_a(6, 2.5, 0.2, 1 / 3).p_abandon, rel=1e-9)
    assert busy.rho == pytest.approx(2.5 * 5 / 6) and busy.entry_per_hour == pytest.approx(150)


def test_nobody_on_shift_at_night_gives_1_and_a_normal_value_by_day():
    rota = {"profile": [["00:00", 0], ["08:00", 6], ["20:00", 0]]}
    sc = centre({"groups.front.agents": rota})
    per = estimate(sc, by="1h")
    night, day = row(per, "03:00", "front"), row(per, "10:00", "front")
    assert night.queue_p_abandon == 1.0 and night.queue_model == "nobody on shift"
    assert night.servers == 0 and night.rho == math.inf and night.entry_per_hour == pytest.approx(60)
    # nobody handled, so nothing is transferred: the back row stays, with no figure
    back = row(per, "03:00", "back")
    assert back.transfers_in_per_hour == 0 and math.isnan(back.transfer_p_abandon) and back.transfer_model == "-"
    assert 0 < day.queue_p_abandon < 0.5 and day.queue_model == "M/M/6+M"
    assert day.queue_p_abandon == pytest.approx(estimate(centre()).queue_p_abandon[0], rel=1e-9)
    # without an interval: the rota is averaged (6 agents half the day -> 3) and said so
    whole = estimate(sc)
    assert whole.servers[0] == 3 and whole.queue_model[0] == "M/M/3+M"
    note = [a for a in whole.attrs["assumptions"] if a.startswith("Averaged")]
    assert len(note) == 1 and "rota" in note[0] and "--by 1h" in note[0]


def test_nobody_on_shift_in_a_transfer_target_expires_every_transfer():
    sc = centre({"groups.back.agents": {"profile": [["08:00", 2], ["18:00", 0]]}})  # wraps: 0 before 08:00
    per = estimate(sc, by="2h")
    assert row(per, "02:00", "back").transfer_p_abandon == 1.0
    assert row(per, "02:00", "back").transfer_model == "nobody on shift"
    assert 0 < row(per, "10:00", "back").transfer_p_abandon < 1


def test_a_group_that_nobody_ever_staffs_in_the_window_never_divides_by_zero():
    # a named agent in back covers the evening only; the window is the morning
    data = centre_data(start="06:00", horizon="4h")
    data["groups"][1]["agents"] = 0
    data["agents"] = [{"name": "eve", "groups": ["back"], "shifts": [["18:00", "23:00"]]}]
    sc = scenario_from_dict(data)
    whole = estimate(sc)
    back = whole.set_index("group").loc["back"]
    assert back.servers == 0 and back.transfer_p_abandon == 1.0 and back.rho == math.inf
    per = estimate(sc, by="1h")
    assert (per[per.group == "back"].transfer_p_abandon == 1.0).all()
    assert set(per.group) == {"front", "back"}  # agent:eve is a target nothing transfers to: no row


def test_an_interval_without_arrivals_keeps_its_rows_with_no_figure():
    profile = [["00:00", 0], ["08:00", 120], ["18:00", 0]]
    per = estimate(centre({"services.chat.arrivals": {"kind": "poisson", "profile": profile}}), by="1h")
    night = per[per.interval == "02:00"]
    assert list(night.group) == ["front", "back"]
    assert (night.entry_per_hour == 0).all() and night.queue_p_abandon.isna().all()
    assert night.transfer_p_abandon.isna().all() and list(night.queue_model) == ["-", "-"]
    assert per.groupby("interval").size().eq(2).all()


def test_staffing_changing_inside_an_interval_weights_each_stretch_by_its_contacts():
    sc = centre({"groups.front.agents": {"profile": [["00:00", 3], ["08:30", 6], ["20:00", 3]]}})
    per = estimate(sc, by="1h")
    mixed = row(per, "08:00", "front")
    assert mixed.servers == pytest.approx(4.5) and mixed.queue_model == "M/M/3..6+M"
    p3, p6 = erlang_a(3, 1.0, 0.2, 1 / 3).p_abandon, erlang_a(6, 1.0, 0.2, 1 / 3).p_abandon
    assert mixed.queue_p_abandon == pytest.approx((p3 + p6) / 2, rel=1e-9)  # flat arrivals: equal weights


def test_arrivals_changing_inside_an_interval_weight_each_stretch_by_its_expected_contacts():
    profile = [["00:00", 60], ["08:40", 150], ["20:00", 60]]
    per = estimate(centre({"services.chat.arrivals": {"kind": "poisson", "profile": profile}}), by="1h")
    mixed = row(per, "08:00", "front")
    calm, busy = erlang_a(6, 1.0, 0.2, 1 / 3).p_abandon, erlang_a(6, 2.5, 0.2, 1 / 3).p_abandon
    # 40 min at 1/min = 40 contacts, 20 min at 2.5/min = 50 contacts
    assert mixed.queue_p_abandon == pytest.approx((40 * calm + 50 * busy) / 90, rel=1e-9)
    assert mixed.entry_per_hour == pytest.approx(90) and mixed.queue_model == "M/M/6+M"


def test_a_rota_averaged_over_the_window_is_rounded_down():
    sc = centre({"groups.front.agents": {"profile": [["00:00", 0], ["08:00", 6], ["18:00", 0]]}})
    whole = estimate(sc)  # 6 agents for 10 h of 24: 2.5 on average
    assert whole.servers[0] == 2 and whole.queue_model[0] == "M/M/2+M"
    assert whole.queue_p_abandon[0] == pytest.approx(erlang_a(2, 1.0, 0.2, 1 / 3).p_abandon, rel=1e-9)
    assert any("rounded down" in a for a in whole.attrs["assumptions"])


def test_staffing_at_agrees_with_the_scenarios_agents_on_shift():
    data = centre_data(start="07:00")
    data["groups"][0]["agents"] = {"profile": [["06:00", 2], ["09:15", 5], ["21:00", 1]]}
    data["groups"][0]["max_concurrent"] = 2
    data["agents"] = [{"name": "ann", "groups": ["front", "back"], "max_concurrent": 3,
                       "shifts": [["22:00", "06:30"], ["12:00", "14:00"]]}]
    sc = scenario_from_dict(data)
    concurrent = {a: c for a, (c, _) in sc.all_agents().items()}
    for t in range(0, 2 * 86400, 900):
        clock = sc.simulation.start_seconds + t + 1.0
        slots, agents = staffing_at(sc, clock)
        assert list(slots) == list(sc.targets())
        for target in sc.targets():
            on = sc.on_shift(target, t + 1.0)
            assert slots[target] == sum(concurrent[a] for a in on), (t, target)
            if target in agents:
                assert agents[target] == len(on)
    averaged = agents_on_shift(sc, "6h")
    assert set(averaged) == {(h, g) for h in ("00:00", "06:00", "12:00", "18:00") for g in ("front", "back")}


@pytest.mark.parametrize("by", [7 * 60, 90.5, 0, -3600, math.nan, math.inf, 2 * 86400, True, "7m", "1h1s", "abc"])
def test_an_interval_that_does_not_cut_the_day_into_whole_minutes_is_refused(by):
    with pytest.raises(ValueError, match=r"15m, 30m, 1h"):
        estimate(centre(), by=by)


def test_the_averaged_note_appears_only_without_an_interval_and_only_when_something_varies():
    profiled = centre({"services.chat.arrivals": {"kind": "poisson", "profile": [["00:00", 30], ["09:00", 90]]}})
    [note] = [a for a in estimate(profiled).attrs["assumptions"] if a.startswith("Averaged")]
    assert "arrival profile of 'chat'" in note and "rota" not in note and "--by 1h" in note
    assert not any(a.startswith("Averaged") for a in estimate(profiled, by=3600).attrs["assumptions"])
    named = centre_data()
    named["agents"] = [{"name": "ann", "groups": ["back"], "shifts": [["09:00", "17:00"]]}]
    assert any("rota" in a for a in estimate(scenario_from_dict(named)).attrs["assumptions"])


# -- patience: M/M/n+G ---------------------------------------------------------------------------------
def exp_survival(theta: float):
    return lambda x: math.exp(-theta * x)


@pytest.mark.parametrize(("n", "lam", "mu", "theta"), [(1, 0.5, 1.0, 0.3), (10, 9.5, 1.0, 0.5),
                                                       (5, 12.0, 1.0, 2.0), (50, 60.0, 1.0, 0.1)])
def test_mmng_with_an_exponential_survival_is_erlang_a(n, lam, mu, theta):
    assert mmng(n, lam, mu, exp_survival(theta)).p_abandon == pytest.approx(
        erlang_a(n, lam, mu, theta).p_abandon, abs=1e-6, rel=1e-6)


def with_patience(patience: dict[str, Any] | None, **service: Any) -> pd.DataFrame:
    data = centre_data()
    data["groups"] = [data["groups"][0] | {"transfers": []}]
    data["services"][0] |= {"patience": patience, **service}
    if patience is None:
        del data["services"][0]["patience"]
    return estimate(scenario_from_dict(data))


def test_a_constant_or_lognormal_patience_differs_from_an_exponential_of_the_same_mean():
    exp = with_patience({"kind": "exponential", "mean": "3m"}).iloc[0]
    const = with_patience({"kind": "constant", "value": "3m"}).iloc[0]
    tight = with_patience({"kind": "lognormal", "mean": "3m", "cv": 0.3}).iloc[0]
    wide = with_patience({"kind": "lognormal", "mean": "3m", "cv": 1.5}).iloc[0]
    gam = with_patience({"kind": "gamma", "mean": "3m", "cv": 0.5}).iloc[0]
    assert (exp.queue_model, const.queue_model, tight.queue_model, gam.queue_model) == (
        "M/M/6+M", "M/M/6+D", "M/M/6+G(lognormal)", "M/M/6+G(gamma)")
    # a known case: constant patience is M/M/n+D
    assert const.queue_p_abandon == pytest.approx(mmn_d(6, 1.0, 0.2, 3.0).p_abandon, rel=1e-12)
    # the same mean, less spread, fewer early leavers: constant < lognormal cv 0.3 < gamma cv 0.5 < exponential
    assert const.queue_p_abandon < tight.queue_p_abandon < gam.queue_p_abandon < exp.queue_p_abandon
    assert tight.queue_p_abandon < 0.75 * exp.queue_p_abandon
    assert tight.queue_p_abandon == pytest.approx(const.queue_p_abandon, rel=0.15)  # cv -> 0: constant
    assert abs(wide.queue_p_abandon - exp.queue_p_abandon) > 0.01 * exp.queue_p_abandon


def test_a_lognormal_patience_is_mmng_with_scipys_lognormal_survival():
    """Independent of the estimate's closed-form H and parametrisation: scipy's lognorm, quadrature H."""
    cv, mean = 1.5, 3.0  # minutes
    s = math.sqrt(math.log1p(cv * cv))
    ref = stats.lognorm(s=s, scale=mean * math.exp(-s * s / 2))
    logn = with_patience({"kind": "lognormal", "mean": "3m", "cv": cv})
    assert logn.queue_p_abandon[0] == pytest.approx(mmng(6, 1.0, 0.2, ref.sf).p_abandon, rel=1e-6)


@pytest.mark.parametrize("dist", [
    {"kind": "lognormal", "mean": 200, "cv": 0.7},
    {"kind": "lognormal", "mean": 50, "cv": 3.0},
    {"kind": "gamma", "mean": 120, "cv": 0.5},
    {"kind": "gamma", "mean": 120, "cv": 2.0},
    {"kind": "erlang", "mean": 90, "k": 3},
    {"kind": "uniform", "low": 30, "high": 300},
    {"kind": "uniform", "low": 0, "high": 60},
])
def test_the_closed_form_partial_mean_is_the_integral_of_the_survival(dist):
    d = Distribution.from_data(dist)
    part = _partial_mean(d)
    assert part is not None
    for x in (1.0, d.mean / 3, d.mean, 2.5 * d.mean, 40 * d.mean):
        # E[min(X, x)] two ways: x G(x) + E[X; X <= x], and int_0^x G
        direct = integrate.quad(d.survival, 0, x, limit=400, epsabs=1e-12, points=[p for p in (30, 60, 300) if p < x])[0]
        assert x * d.survival(x) + part(x) == pytest.approx(direct, rel=1e-7, abs=1e-9), x
    assert part(1e9 * d.mean) == pytest.approx(d.mean, rel=1e-9)


def test_other_forms_and_kinds_have_a_partial_mean_too_when_the_scenario_knows_them():
    forms = [{"kind": "lognormal", "mu": 4.0, "sigma": 0.8}, {"kind": "empirical", "values": [10, 20, 20, 50, 400]}]
    for dist in forms:
        try:
            d = Distribution.from_data(dist)
        except ValidationError:
            pytest.skip(f"this {dist['kind']} form is not in the scenario format (yet)")
        part = _partial_mean(d)
        assert part is not None
        for x in (5.0, 20.0, 35.0, d.mean, 1000.0):
            direct = integrate.quad(d.survival, 0, x, limit=400, points=[p for p in (10, 20, 50, 400) if p < x])[0]
            assert x * d.survival(x) + part(x) == pytest.approx(direct, rel=1e-7, abs=1e-9), (dist, x)


def test_an_empirical_patience_is_mmng_with_its_survival():
    values = [20, 45, 45, 90, 200, 260, 600]  # seconds; 45 twice: an atom
    got = with_patience({"kind": "empirical", "values": values})
    d = Distribution.from_data({"kind": "empirical", "values": values})
    ref = mmng(6, 1.0, 0.2, lambda x: d.survival(60 * x), breakpoints=[v / 60 for v in values]).p_abandon
    assert got.queue_model[0] == "M/M/6+G(empirical)"
    assert got.queue_p_abandon[0] == pytest.approx(ref, rel=1e-7)


def test_an_empirical_patience_of_thousands_of_values_stays_quiet_and_close(recwarn):
    import numpy as np

    from model.estimate import MAX_BENDS, _curve

    values = np.random.default_rng(1).exponential(180, 3 * MAX_BENDS).tolist()
    got = with_patience({"kind": "empirical", "values": values}).queue_p_abandon[0]
    assert not [w for w in recwarn if "Integration" in type(w.message).__name__]
    curve = _curve(Distribution.from_data({"kind": "empirical", "values": values}))
    assert curve.rough and curve.bends == ()
    every_kink = mmng(6, 1.0, 0.2, curve.g, integrated_survival=curve.h,
                      breakpoints=sorted(v / 60 for v in values)).p_abandon
    assert got == pytest.approx(every_kink, rel=1e-5)


@pytest.mark.parametrize(("patience", "model"), [
    ({"kind": "gamma", "mean": "40s", "cv": 0.3}, "M/M/2+(D,G(gamma))"),
    ({"kind": "constant", "value": "40s"}, "M/M/2+(D,G(constant))"),
    ({"kind": "exponential", "mean": "40s"}, "M/M/2+(D,exp)"),
    (None, "M/M/2+D"),
])
def test_transfer_patience_of_any_kind_races_the_transfer_timer(patience, model):
    data = centre_data()
    data["services"][0]["transfer_patience"] = patience
    if patience is None:
        del data["services"][0]["transfer_patience"]
    df = estimate(scenario_from_dict(data)).set_index("group")
    back = df.loc["back"]
    lam, mu, d = back.transfers_in_per_hour / 60, 1 / 6, 1.0  # per minute; D = 60 s
    kind = None if patience is None else patience["kind"]
    if kind is None:
        ref = mmn_d(2, lam, mu, d).p_abandon
    elif kind == "constant":
        ref = mmn_d(2, lam, mu, 40 / 60).p_abandon  # min(D, 40 s)
    elif kind == "exponential":
        ref = mmn_d_exp(2, lam, mu, d, 1.5).p_abandon
    else:
        g = stats.gamma(a=1 / 0.09, scale=40 / 60 * 0.09)
        ref = mmng(2, lam, mu, lambda x: g.sf(x) if x < d else 0.0, breakpoints=(d,)).p_abandon
    assert back.transfer_model == model
    assert back.transfer_p_abandon == pytest.approx(ref, rel=1e-6)
    # the entry queue does not depend on the transfer patience
    assert df.loc["front"].queue_p_abandon == pytest.approx(estimate(centre()).queue_p_abandon[0], rel=1e-12)


def test_a_zero_transfer_timeout_expires_every_transfer():
    back = estimate(centre({"services.chat.transfer_timeout": 0})).set_index("group").loc["back"]
    assert back.transfer_p_abandon == 1.0 and back.transfer_model == "timeout 0: all expire"


def test_no_patience_is_erlang_c_below_saturation_and_the_fluid_share_above():
    assert with_patience(None).queue_p_abandon[0] == 0.0
    over = with_patience(None, arrivals={"kind": "poisson", "rate_per_hour": 144})  # 2.4/min vs 6 x 0.2
    assert over.queue_p_abandon[0] == pytest.approx(1 - 1.2 / 2.4) and over.queue_model[0] == "M/M/6"


# -- the command ---------------------------------------------------------------------------------------------
runner = CliRunner()
HH_MM = re.compile(r"^\s*\d\d:\d\d\s")

PROFILED = """
name = "day"
[simulation]
horizon = "6h"
warmup = "30m"
start = "07:30"
replications = 2
seed = 5
[[services]]
name = "chat"
entry_group = "front"
arrivals = { kind = "poisson", profile = [["00:00", 20], ["09:00", 90], ["11:00", 40]] }
patience = { kind = "lognormal", mean = "3m", cv = 1.0 }
[[groups]]
name = "front"
agents = { profile = [["00:00", 2], ["08:00", 5], ["12:00", 3]] }
handle_time = { kind = "exponential", mean = "4m" }
transfers = [{ to = "back", probability = 0.1 }]
[[groups]]
name = "back"
agents = 1
max_concurrent = 2
handle_time = { kind = "exponential", mean = "5m" }
"""


#: PROFILED's staffing as three agents all day and two named agents on shift 08:00-12:00
SHIFTED = PROFILED.replace('agents = { profile = [["00:00", 2], ["08:00", 5], ["12:00", 3]] }', "agents = 3") + """
[[agents]]
name = "amy"
groups = ["front"]
shifts = [["08:00", "12:00"]]
[[agents]]
name = "bob"
groups = ["front"]
shifts = [["08:00", "12:00"]]
"""


@pytest.fixture
def profiled(tmp_path):
    path = tmp_path / "day.toml"
    path.write_text(PROFILED)
    return path


@pytest.fixture
def shifted(tmp_path):
    path = tmp_path / "shifted.toml"
    path.write_text(SHIFTED)
    return path


def test_cli_by_prints_one_row_per_interval_and_pair(profiled):
    res = runner.invoke(app, ["estimate", str(profiled), "--by", "1h"])
    assert res.exit_code == 0, res.output
    rows = [line for line in res.stdout.splitlines() if HH_MM.match(line)]
    intervals = [line.split()[0] for line in rows]
    assert list(dict.fromkeys(intervals)) == ["08:00", "09:00", "10:00", "11:00", "12:00", "13:00"]
    assert len(rows) == 6 * 2  # front and back in each
    assert "per 1 h interval" in res.stdout and "M/M/5+G(lognormal)" in res.stdout
    assert "note:" not in res.stdout and "assumptions:" in res.stdout


def test_cli_without_by_says_what_it_averaged_and_points_to_by(profiled):
    res = runner.invoke(app, ["estimate", str(profiled)])
    assert res.exit_code == 0, res.output
    [note] = [line for line in res.stdout.splitlines() if line.startswith("note:")]
    assert "arrival profile" in note and "rota" in note and "--by 1h" in note


@pytest.mark.parametrize("by", ["7m", "25h", "0", "-1h", "soon", "90.5", ""])
def test_cli_a_bad_by_exits_2_naming_the_option_and_the_allowed_values(profiled, by):
    res = runner.invoke(app, ["estimate", str(profiled), "--by", by])
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --by"), res.stderr
    assert "15m, 30m, 1h" in lines[0] and "Traceback" not in res.output


def test_cli_simulate_per_interval_puts_the_simulated_figure_next_to_the_analytic(shifted):
    res = runner.invoke(app, ["estimate", str(shifted), "--by", "2h", "--simulate", "-r", "2"])
    assert res.exit_code == 0, res.output
    head, after = res.stdout.split("analytic vs simulated", 1)
    assert "2 replications" in after.splitlines()[0]
    lines = after.splitlines()[2:]
    queue = [line.split()[:3] for line in lines if "queue_abandonment_rate" in line]
    assert queue == [["08:00", "queue_abandonment_rate", "chat"], ["10:00", "queue_abandonment_rate", "chat"],
                     ["12:00", "queue_abandonment_rate", "chat"]]
    # staffing, analytic and simulated: 5 agents from 08:00, 3 from 12:00
    staffed = {line.split()[0]: line.split()[3:5] for line in lines if re.search(r"staffed_agents\s+front", line)}
    assert staffed == {"08:00": ["5.0", "5.0"], "10:00": ["5.0", "5.0"], "12:00": ["3.0", "3.0"]}
    transfers = [line for line in lines if "transfer_abandonment_rate" in line]
    assert transfers and all(" back " in line for line in transfers)  # front receives no transfers: left out


def test_compare_reads_the_simulated_intervals_and_weights_transfers_by_flow(shifted, profiled):
    from model import load_scenario, simulate

    sc = load_scenario(shifted)
    est_profiled = estimate(load_scenario(profiled), by="2h")
    est = estimate(sc, by="2h")
    result = simulate(sc, replications=2, keep_events=False, interval="2h")
    table = compare(est, result.intervals, agents_on_shift(sc, "2h"))
    assert list(table.columns) == ["interval", "figure", "key", "analytic", "simulated", "ci_low", "ci_high", "n"]
    q = table[(table.figure == "queue_abandonment_rate") & (table.interval == "10:00")].iloc[0]
    assert q.analytic == pytest.approx(row(est, "10:00", "front").queue_p_abandon)
    sim = result.intervals.set_index(["interval", "scope", "key", "metric"])
    assert q.simulated == sim.loc[("10:00", "service", "chat", "queue_abandonment_rate"), "mean"]
    staffed = table[(table.figure == "staffed_agents") & (table.key == "front")].set_index("interval")
    assert staffed.analytic.to_dict() == pytest.approx(staffed.simulated.to_dict())
    assert staffed.analytic["08:00"] == 5 and staffed.analytic["12:00"] == 3
    # the same staffing as a group profile or as named agents' shifts: the same estimate
    pd.testing.assert_frame_equal(est[NUMERIC], est_profiled[NUMERIC])
    assert not (table.analytic.isna() & table.simulated.isna()).any()


def test_cli_simulate_without_by_compares_the_whole_run(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text((SCENARIOS / "single-group.toml").read_text().replace('horizon = "8h"', 'horizon = "20m"'))
    res = runner.invoke(app, ["estimate", str(path), "--simulate", "-r", "2"])
    assert res.exit_code == 0, res.output
    line = next(line for line in res.stdout.splitlines() if "queue_abandonment_rate" in line)
    assert re.match(r"^\s*queue_abandonment_rate\s+chat\s+8\.4 %\s+\d+\.\d %\s+\d+\.\d % - \d+\.\d %$", line), line
    assert re.search(r"staffed_agents\s+agents\s+10\.0\s+10\.0", res.stdout), res.stdout


def test_compare_weights_each_services_transfers_by_its_flow_and_leaves_out_what_neither_side_has():
    est = pd.DataFrame({
        "interval": ["09:00"] * 4, "group": ["front", "front", "back", "back"], "service": ["a", "b", "a", "b"],
        "entry_per_hour": [30.0, 10.0, 0.0, 0.0], "queue_p_abandon": [0.1, 0.3, math.nan, math.nan],
        "transfers_in_per_hour": [0.0, 0.0, 6.0, 2.0], "transfer_p_abandon": [math.nan, math.nan, 0.2, 0.6],
    })
    sim = pd.DataFrame([("09:00", "service", "a", "queue_abandonment_rate", 0.11, 0.1, 0.12, 5),
                        ("09:00", "target", "back", "transfer_abandonment_rate", 0.33, 0.2, 0.4, 5)],
                       columns=["interval", "scope", "key", "metric", "mean", "ci_low", "ci_high", "n"])
    table = compare(est, sim).set_index(["figure", "key"])
    assert table.loc[("transfer_abandonment_rate", "back"), "analytic"] == pytest.approx((6 * 0.2 + 2 * 0.6) / 8)
    assert table.loc[("transfer_abandonment_rate", "back"), "simulated"] == 0.33
    assert table.loc[("queue_abandonment_rate", "a"), ["analytic", "simulated"]].tolist() == [0.1, 0.11]
    assert math.isnan(table.loc[("queue_abandonment_rate", "b"), "simulated"])  # only the estimate has it
    assert ("transfer_abandonment_rate", "front") not in table.index  # neither side has it
