"""Tests for model.analytic: published values, limits, cross-model identities, oracle."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.analytic import (
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_c_service_level,
    erlang_c_wait,
    mmn_birth_death,
    mmn_d,
    mmn_d_exp,
    mmng,
    staffing_erlang_a,
)

# pyworkforce ErlangA example: 100 contacts / 30 min, AHT 3 min, patience 5 min (rates per minute)
PW_LAM, PW_MU, PW_THETA, PW_N = 100 / 30, 1 / 3, 1 / 5, 14


def exp_survival(theta: float):
    return lambda x: math.exp(-theta * x)


def assert_results_match(a, b, rel=1e-7, abs_=1e-12, times=(0.0, 0.05, 0.3, 1.0, 4.0)):
    assert a.p_wait == pytest.approx(b.p_wait, rel=rel, abs=abs_)
    assert a.p_abandon == pytest.approx(b.p_abandon, rel=rel, abs=abs_)
    assert a.mean_wait == pytest.approx(b.mean_wait, rel=rel, abs=abs_)
    for t in times:
        assert a.p_wait_gt(t) == pytest.approx(b.p_wait_gt(t), rel=rel, abs=abs_)
        assert a.p_offered_wait_gt(t) == pytest.approx(b.p_offered_wait_gt(t), rel=rel, abs=abs_)
        assert a.service_level(t) == pytest.approx(b.service_level(t), rel=rel, abs=abs_)


# --- Erlang B / C -----------------------------------------------------------


def test_erlang_b_matches_known_table_values():
    assert erlang_b(10, 5) == pytest.approx(0.018384570336648, rel=1e-12)
    assert erlang_b(1, 1) == pytest.approx(0.5)
    assert erlang_b(2, 1) == pytest.approx(0.2)


def test_erlang_c_matches_known_values_and_is_one_when_unstable():
    assert erlang_c(10, 8) == pytest.approx(0.40918015, rel=1e-7)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(10, 10) == 1.0
    assert erlang_c(10, 13) == 1.0


def test_erlang_c_wait_and_service_level_match_mm1_closed_form():
    lam, mu, t = 0.6, 1.0, 2.0
    assert erlang_c_wait(1, lam, mu) == pytest.approx(lam / (mu * (mu - lam)))
    assert erlang_c_service_level(1, lam, mu, t) == pytest.approx(1 - lam * math.exp(-(mu - lam) * t))
    assert erlang_c_wait(2, 3.0, 1.0) == math.inf


@pytest.mark.parametrize("n", [1, 10, 100, 1000])
@pytest.mark.parametrize("load_factor", [0.1, 0.5, 0.9, 0.99, 1.0, 1.3, 2.0])
def test_formulas_return_finite_probabilities_for_large_n_and_overload(n, load_factor):
    a = load_factor * n
    for value in (erlang_b(n, a), erlang_c(n, a)):
        assert math.isfinite(value) and 0.0 <= value <= 1.0
    r = erlang_a(n, a, 1.0, 0.5)
    for value in (r.p_wait, r.p_abandon, r.mean_wait, r.service_level(0.2), r.p_wait_gt(0.2)):
        assert math.isfinite(value) and value >= 0.0
    assert r.p_abandon <= r.p_wait <= 1.0
    d = mmn_d(n, a, 1.0, 0.5)
    for value in (d.p_wait, d.p_abandon, d.mean_wait, d.service_level(0.2), d.p_wait_gt(0.2)):
        assert math.isfinite(value) and value >= 0.0
    assert d.p_abandon <= d.p_wait <= 1.0


# --- Erlang A ----------------------------------------------------------------


def test_erlang_a_reproduces_pyworkforce_published_example():
    r = erlang_a(PW_N, PW_LAM, PW_MU, PW_THETA)
    assert r.p_wait == pytest.approx(0.14526, abs=1e-5)
    assert r.p_abandon == pytest.approx(0.013984, abs=1e-5)
    assert r.service_level(20 / 60) == pytest.approx(0.916792, abs=1e-5)
    assert r.mean_wait == pytest.approx(0.069919, abs=1e-6)  # pyworkforce ASA (all arrivals)


@pytest.mark.parametrize(
    "n,lam,mu,theta",
    [
        (PW_N, PW_LAM, PW_MU, PW_THETA),
        (1, 0.8, 1.0, 0.3),
        (1, 1.3, 1.0, 0.5),
        (20, 26.0, 1.0, 0.2),  # overloaded, lam/mu = 1.3 n
        (100, 130.0, 1.0, 0.5),  # overloaded
        (100, 95.0, 1.0, 0.05),
        (1000, 950.0, 1.0, 0.1),
        (1000, 1300.0, 1.0, 1.0),  # overloaded, n = 1000
        (1000, 800.0, 1.0, 0.01),  # light traffic, hyp1f1 branch
    ],
)
def test_erlang_a_matches_birth_death_oracle(n, lam, mu, theta):
    r = erlang_a(n, lam, mu, theta)
    bd = mmn_birth_death(n, lam, mu, theta)
    assert r.p_wait == pytest.approx(bd["p_wait"], rel=1e-8, abs=1e-14)
    assert r.p_abandon == pytest.approx(bd["p_abandon"], rel=1e-8, abs=1e-14)
    assert r.mean_wait == pytest.approx(bd["mean_wait"], rel=1e-8, abs=1e-14)


def test_erlang_a_wait_tail_is_consistent_with_p_wait_and_mean_wait():
    # P(W > 0) = p_wait and E[W] = int_0^inf P(W > t) dt, with P(W > t) = e^{-theta t} P(V > t)
    from scipy import integrate

    r = erlang_a(PW_N, PW_LAM, PW_MU, PW_THETA)
    assert r.p_offered_wait_gt(0.0) == pytest.approx(r.p_wait)
    mean = integrate.quad(r.p_wait_gt, 0, math.inf)[0]
    assert mean == pytest.approx(r.mean_wait, rel=1e-8)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    n, lam, mu = 10, 8.0, 1.0
    r = erlang_a(n, lam, mu, 1e-9)
    assert r.p_wait == pytest.approx(erlang_c(n, lam / mu), rel=1e-6)
    assert r.mean_wait == pytest.approx(erlang_c_wait(n, lam, mu), rel=1e-6)
    assert r.p_abandon == pytest.approx(0.0, abs=1e-8)
    assert r.service_level(0.5) == pytest.approx(erlang_c_service_level(n, lam, mu, 0.5), rel=1e-6)


def test_erlang_a_service_level_is_served_within_t_and_excludes_abandons():
    r = erlang_a(PW_N, PW_LAM, PW_MU, PW_THETA)
    assert r.service_level(0.0) == pytest.approx(1 - r.p_wait)
    assert r.service_level(1e6) == pytest.approx(1 - r.p_abandon)
    levels = [r.service_level(t) for t in (0.0, 0.1, 0.5, 1.0, 5.0)]
    assert levels == sorted(levels)


# --- M/M/n+G and specialisations --------------------------------------------------


@pytest.mark.parametrize(
    "n,lam,mu,theta",
    [(PW_N, PW_LAM, PW_MU, PW_THETA), (5, 6.5, 1.0, 0.7), (50, 45.0, 1.0, 0.1)],
)
def test_mmng_with_exponential_patience_equals_erlang_a(n, lam, mu, theta):
    assert_results_match(mmng(n, lam, mu, exp_survival(theta)), erlang_a(n, lam, mu, theta))


@pytest.mark.parametrize("n,lam,mu,timeout", [(PW_N, PW_LAM, PW_MU, 0.5), (PW_N, PW_LAM, PW_MU, 5.0), (10, 13.0, 1.0, 0.3), (3, 2.0, 1.0, 1.0)])
def test_mmn_d_closed_form_equals_mmng_with_step_survival(n, lam, mu, timeout):
    g = mmng(n, lam, mu, lambda x: 1.0 if x < timeout else 0.0, breakpoints=[timeout])
    assert_results_match(mmn_d(n, lam, mu, timeout), g, times=(0.0, 0.1, 0.99 * timeout, timeout, 2 * timeout))


@pytest.mark.parametrize("n,lam,mu,timeout,theta", [(PW_N, PW_LAM, PW_MU, 0.5, PW_THETA), (PW_N, PW_LAM, PW_MU, 5.0, PW_THETA), (10, 13.0, 1.0, 0.3, 1.0)])
def test_mmn_d_exp_equals_mmng_with_truncated_exponential_survival(n, lam, mu, timeout, theta):
    # mmng here integrates the survival itself (nested quad), so this also checks mmn_d_exp's closed-form H
    g = mmng(n, lam, mu, lambda x: math.exp(-theta * x) if x < timeout else 0.0, breakpoints=[timeout])
    assert_results_match(mmn_d_exp(n, lam, mu, timeout, theta), g, times=(0.0, 0.1, 0.99 * timeout, timeout, 2 * timeout))


def test_mmn_d_abandons_exactly_when_wait_reaches_timeout():
    dd = 0.5
    r = mmn_d(PW_N, PW_LAM, PW_MU, dd)
    assert r.p_wait_gt(dd) == 0.0  # W = min(V, D) never exceeds D
    assert r.p_abandon == pytest.approx(r.p_offered_wait_gt(dd), rel=1e-12)  # P(V >= D)
    assert r.p_wait_gt(dd * (1 - 1e-12)) == pytest.approx(r.p_abandon, rel=1e-9)  # P(W >= D)
    assert r.service_level(dd) == pytest.approx(1 - r.p_abandon, rel=1e-12)


def test_mmn_d_tends_to_erlang_c_when_timeout_grows_and_load_below_n():
    n, lam, mu = 10, 8.0, 1.0
    r = mmn_d(n, lam, mu, 200.0)
    assert r.p_wait == pytest.approx(erlang_c(n, lam / mu), rel=1e-9)
    assert r.mean_wait == pytest.approx(erlang_c_wait(n, lam, mu), rel=1e-9)
    assert r.p_abandon == pytest.approx(0.0, abs=1e-12)


def test_mmn_d_exp_tends_to_mmn_d_and_erlang_a_at_its_limits():
    assert_results_match(mmn_d_exp(PW_N, PW_LAM, PW_MU, 0.5, 1e-12), mmn_d(PW_N, PW_LAM, PW_MU, 0.5), rel=1e-6)
    assert_results_match(mmn_d_exp(PW_N, PW_LAM, PW_MU, 500.0, PW_THETA), erlang_a(PW_N, PW_LAM, PW_MU, PW_THETA))


def test_mmng_handles_overloaded_n_1000_without_overflow():
    r = mmn_d_exp(1000, 1300.0, 1.0, 2.0, 1.0)
    a = erlang_a(1000, 1300.0, 1.0, 1.0)
    assert math.isfinite(r.p_abandon) and 0 < r.p_abandon < 1
    assert r.p_abandon == pytest.approx(a.p_abandon, rel=1e-6)  # e^{-2} patience survival: timeout nearly never hit
    d = mmn_d(1000, 1300.0, 1.0, 2.0)
    assert d.p_abandon == pytest.approx(0.3 / 1.3, rel=1e-9)  # overload: throughput = n mu


# --- staffing and properties -------------------------------------------------------


def test_staffing_erlang_a_returns_smallest_n_meeting_abandon_target():
    target = 0.02
    n = staffing_erlang_a(PW_LAM, PW_MU, PW_THETA, target)
    assert erlang_a(n, PW_LAM, PW_MU, PW_THETA).p_abandon <= target
    assert erlang_a(n - 1, PW_LAM, PW_MU, PW_THETA).p_abandon > target
    assert staffing_erlang_a(900.0, 1.0, 1.0, 0.01) > 800


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    load_factor=st.floats(0.05, 2.5),
    theta=st.floats(1e-3, 10.0),
)
def test_erlang_a_probabilities_are_bounded_and_abandon_decreases_with_n(n, load_factor, theta):
    lam = load_factor * n
    r, r_more = erlang_a(n, lam, 1.0, theta), erlang_a(n + 1, lam, 1.0, theta)
    assert 0.0 <= r.p_abandon <= r.p_wait <= 1.0
    assert r_more.p_abandon <= r.p_abandon * (1 + 1e-9) + 1e-300
    assert 0.0 <= r.service_level(0.1) <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    load_factor=st.floats(0.05, 2.5),
    timeout=st.floats(1e-3, 20.0),
)
def test_mmn_d_probabilities_are_bounded_and_abandon_decreases_with_n(n, load_factor, timeout):
    lam = load_factor * n
    r, r_more = mmn_d(n, lam, 1.0, timeout), mmn_d(n + 1, lam, 1.0, timeout)
    assert 0.0 <= r.p_abandon <= r.p_wait <= 1.0
    assert r_more.p_abandon <= r.p_abandon * (1 + 1e-9) + 1e-300
    assert 0.0 <= r.mean_wait <= timeout


def test_every_formula_is_importable_from_model_analytic_and_from_its_family():
    import model.analytic as analytic
    from model.analytic import erlang, general_patience, priority

    families = (erlang, general_patience, priority)
    assert sorted(analytic.__all__) == sorted(name for family in families for name in family.__all__)
    for family in families:
        for name in family.__all__:
            assert getattr(analytic, name) is getattr(family, name)
    assert {"priority_waits", "cobham_waits", "PriorityWaits"} <= set(analytic.__all__)
