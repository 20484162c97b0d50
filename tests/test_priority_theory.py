"""Non-preemptive priority M/M/n (model.analytic.priority): Cobham's mean waits and Davis's
distribution against Erlang C, the conservation law, M/M/1's closed forms, a numerically solved
Markov chain of the whole queue, and a small independent simulation of it; and the estimate's use
of them when services of different priority share a group (model.estimate)."""

from __future__ import annotations

import itertools
import math
import random
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, sparse
from scipy.sparse import linalg

from model.analytic import cobham_waits, erlang_c, erlang_c_service_level, erlang_c_wait, priority_waits
from model.estimate import ESTIMATE_ASSUMPTIONS, ESTIMATE_COLUMNS, estimate
from model.scenario import Scenario, scenario_from_dict


@st.composite
def stable_queues(draw, max_classes: int = 5):
    """(n, lambdas, mu): 1-60 servers, 1-5 classes (some may have rate 0), total load 0-0.99."""
    n = draw(st.integers(1, 60))
    mu = draw(st.floats(0.01, 100.0))
    shares = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=1, max_size=max_classes))
    rho = draw(st.floats(0.0, 0.99))
    total = sum(shares)
    lambdas = [rho * n * mu * s / total if total > 0 else 0.0 for s in shares]
    return n, lambdas, mu


# -- identities -------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200), st.floats(0.0, 0.999), st.floats(0.01, 100.0))
def test_one_class_is_erlang_c(n, rho, mu):
    lam = rho * n * mu
    r = priority_waits(n, [lam], mu)
    assert r.mean_wait[0] == pytest.approx(erlang_c_wait(n, lam, mu), rel=1e-12, abs=1e-300)
    assert r.p_wait == pytest.approx(erlang_c(n, lam / mu), rel=1e-12, abs=1e-300)
    for t in (0.0, 0.3 / mu, 2.0 / mu):
        assert r.service_level(0, t) == pytest.approx(erlang_c_service_level(n, lam, mu, t), rel=1e-12, abs=1e-14)


@settings(max_examples=300, deadline=None)
@given(stable_queues())
def test_the_rate_weighted_mean_wait_is_the_first_come_first_served_wait(q):
    """Conservation law: with equal service rates the number waiting does not depend on who is served first."""
    n, lambdas, mu = q
    r = priority_waits(n, lambdas, mu)
    total = sum(lambdas)
    fcfs = erlang_c_wait(n, total, mu)
    assert sum(r.mean_queue) == pytest.approx(total * fcfs, rel=1e-9, abs=1e-300)
    if total > 0:
        assert sum(lam * w for lam, w in zip(lambdas, r.mean_wait)) / total == pytest.approx(fcfs, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(stable_queues())
def test_a_lower_class_never_waits_less_and_everyone_waits_with_the_same_probability(q):
    n, lambdas, mu = q
    r = priority_waits(n, lambdas, mu)
    assert all(a <= b * (1 + 1e-12) for a, b in zip(r.mean_wait, r.mean_wait[1:]))
    fcfs = erlang_c_wait(n, sum(lambdas), mu)
    assert r.mean_wait[0] <= fcfs * (1 + 1e-9) and fcfs <= r.mean_wait[-1] * (1 + 1e-9)
    assert r.mean_queue == pytest.approx([lam * w for lam, w in zip(lambdas, r.mean_wait)])
    assert r.rho == pytest.approx(sum(lambdas) / (n * mu))
    assert [r.p_wait_gt(k, 0.0) for k in range(len(lambdas))] == pytest.approx([r.p_wait] * len(lambdas))


@pytest.mark.parametrize("lam1, lam2, mu", [(0.2, 0.3, 1.0), (0.5, 0.4, 1.0), (0.05, 0.85, 2.0), (0.0, 0.6, 1.0)])
def test_two_classes_one_server_are_mm1_closed_forms(lam1, lam2, mu):
    """M/M/1 with two classes: W1 = rho / (mu (1 - rho1)), W2 = rho / (mu (1 - rho1) (1 - rho))."""
    rho1, rho = lam1 / mu, (lam1 + lam2) / mu
    r = priority_waits(1, [lam1, lam2], mu)
    assert r.p_wait == pytest.approx(rho)
    assert r.mean_wait[0] == pytest.approx(rho / (mu * (1 - rho1)), rel=1e-12)
    assert r.mean_wait[1] == pytest.approx(rho / (mu * (1 - rho1) * (1 - rho)), rel=1e-12)
    # the top class waits Exp(mu - lam1) when it waits (the M/M/1 queue of its own contacts)
    assert r.p_wait_gt(0, 1.5) == pytest.approx(rho * math.exp(-(mu - lam1) * 1.5), rel=1e-12)


# -- the whole queue as a Markov chain ----------------------------------------------------------------
def priority_chain(n: int, lambdas: list[float], mu: float, caps: list[int]) -> tuple[float, list[float]]:
    """(P(all busy), mean number waiting per class) of non-preemptive priority M/M/n, solved as its
    Markov chain: busy servers below n, else the number waiting per class (at most ``caps[c]`` of
    class c; an arrival beyond is lost, so the caps must leave negligible mass there)."""
    k = len(lambdas)
    zero = (0,) * k
    states = [(b, zero) for b in range(n)] + [(n, q) for q in itertools.product(*(range(c + 1) for c in caps))]
    index = {s: i for i, s in enumerate(states)}
    rows, cols, vals = [], [], []

    def rate(i: int, to: tuple[int, tuple[int, ...]], r: float) -> None:
        rows.append(i), cols.append(index[to]), vals.append(r)

    for i, (b, q) in enumerate(states):
        if b < n:
            rate(i, (b + 1, zero), sum(lambdas))
            if b > 0:
                rate(i, (b - 1, zero), b * mu)
            continue
        for c, lam in enumerate(lambdas):
            if q[c] < caps[c] and lam > 0:
                rate(i, (n, q[:c] + (q[c] + 1,) + q[c + 1:]), lam)
        first = next((c for c in range(k) if q[c] > 0), None)  # the freed server takes the highest class
        rate(i, (n - 1, zero) if first is None else (n, q[:first] + (q[first] - 1,) + q[first + 1:]), n * mu)
    m = len(states)
    gen = sparse.csr_matrix((vals, (rows, cols)), shape=(m, m))
    gen = gen - sparse.diags(np.asarray(gen.sum(axis=1)).ravel())
    a = gen.T.tolil()
    a[m - 1, :] = np.ones(m)
    rhs = np.zeros(m)
    rhs[-1] = 1.0
    pi = linalg.spsolve(a.tocsc(), rhs)
    busy = pi[n:]
    queues = np.array([q for _, q in states[n:]], dtype=float)
    full = (queues == np.array(caps)) & (np.array(lambdas) > 0)
    assert busy[full.any(axis=1)].sum() < 1e-10, "caps too small"
    return float(busy.sum()), list(busy @ queues)


@pytest.mark.parametrize("n, lambdas, caps", [
    (1, [0.3, 0.5], [50, 200]),          # M/M/1, rho 0.8
    (2, [0.4, 0.6], [36, 70]),           # rho 0.5
    (2, [1.2, 0.5], [80, 260]),          # rho 0.85, heavy top class
    (4, [0.0, 2.0, 1.0], [0, 50, 90]),   # a class without arrivals
    (3, [0.5, 0.4, 0.6], [18, 20, 30]),  # three classes, rho 0.5
])
def test_cobham_agrees_with_the_markov_chain_of_the_whole_queue(n, lambdas, caps):
    mu = 1.0
    p_busy, queues = priority_chain(n, lambdas, mu, caps)
    r = priority_waits(n, lambdas, mu)
    assert r.p_wait == pytest.approx(p_busy, rel=1e-8)
    assert list(r.mean_queue) == pytest.approx(queues, rel=1e-7, abs=1e-12)


# -- the distribution of the wait ---------------------------------------------------------------------
@pytest.mark.parametrize("n, lambdas, mu", [(1, [0.3, 0.5], 1.0), (5, [1.0, 2.0, 1.5], 1.0), (10, [2.0, 6.9], 1.0),
                                            (3, [0.0, 1.0, 0.0, 1.5], 0.9)])
def test_the_wait_distribution_integrates_to_cobhams_mean(n, lambdas, mu):
    r = priority_waits(n, lambdas, mu)
    for k in range(len(lambdas)):
        tail = lambda t: r.p_wait_gt(k, t)  # noqa: E731
        edges = [0.0] + [r.mean_wait[k] / r.p_wait * f for f in (0.5, 1, 2, 4, 8, 16, 32, 64)] + [np.inf]
        mean = sum(integrate.quad(tail, lo, hi, limit=200)[0] for lo, hi in zip(edges, edges[1:]))
        assert mean == pytest.approx(r.mean_wait[k], rel=1e-6)
        ts = np.linspace(0, 5 * r.mean_wait[k] / r.p_wait, 12)
        levels = [r.service_level(k, t) for t in ts]
        assert levels[0] == pytest.approx(1 - r.p_wait) and all(np.diff(levels) >= -1e-15)


def test_a_far_tail_is_cut_not_walked():
    """P(W > t) far beyond the mean is ~0 and cheap: the walk stops once it has almost surely ended
    (it used to walk every one of the ~1e5 jumps of the uniformised chain up to t = 1e4)."""
    r = priority_waits(10, [3.0, 5.9], 1.0)
    assert r.p_wait_gt(1, 1e4) == pytest.approx(0.0, abs=1e-15)
    assert r.p_wait_gt(1, 1e7) == pytest.approx(0.0, abs=1e-15)
    assert 0 < r.p_wait_gt(1, 100.0) < 1e-100


def simulated_waits(n: int, lambdas: list[float], mu: float, customers: int, seed: int) -> list[list[float]]:
    """Waits per class from a direct simulation of the queue (its Markov jumps, one FIFO per class)."""
    rng = random.Random(seed)
    total = sum(lambdas)
    queues: list[deque[float]] = [deque() for _ in lambdas]
    waits: list[list[float]] = [[] for _ in lambdas]
    now, busy, arrived = 0.0, 0, 0
    while arrived < customers:
        rate = total + busy * mu
        now += rng.expovariate(rate)
        u = rng.random() * rate
        if u < total:
            arrived += 1
            c = 0
            while u >= lambdas[c]:
                u -= lambdas[c]
                c += 1
            if busy < n:
                busy += 1
                waits[c].append(0.0)
            else:
                queues[c].append(now)
        else:
            q = next((q for q in queues if q), None)
            if q is None:
                busy -= 1
            else:
                waits[queues.index(q)].append(now - q.popleft())
    return waits


def test_the_wait_distribution_matches_a_direct_simulation():
    """Davis's distribution (uniformisation) for a lower class, against waits simulated without it."""
    n, lambdas, mu = 2, [0.5, 0.5, 0.6], 1.0
    r = priority_waits(n, lambdas, mu)
    waits = simulated_waits(n, lambdas, mu, 300_000, seed=5)
    for k in range(3):
        w = np.array(waits[k][2000:])
        assert w.mean() == pytest.approx(r.mean_wait[k], rel=0.06)
        for t in (0.25, 1.0, 3.0):
            assert (w > t).mean() == pytest.approx(r.p_wait_gt(k, t), abs=0.012), (k, t)


# -- overload and refusals ------------------------------------------------------------------------------
def test_cobham_waits_above_saturation_keeps_the_stable_classes():
    n, mu = 4, 1.0
    waits = cobham_waits(n, [1.0, 2.0, 2.0], mu)  # total 5 > 4: the lowest class is unstable
    assert waits[0] == pytest.approx(1 / (4 * (1 - 0.25)))
    assert waits[1] == pytest.approx(1 / (4 * (1 - 0.25) * (1 - 0.75)))
    assert waits[2] == math.inf
    assert cobham_waits(n, [1.0, 2.0, 1.0], mu)[:2] == pytest.approx(waits[:2])  # exactly saturated
    below = cobham_waits(n, [1.0, 2.0, 1.0 - 1e-9], mu)  # continuous as the load reaches n mu
    assert below[:2] == pytest.approx(waits[:2], rel=1e-6)
    assert cobham_waits(n, [1.0, 2.0, 0.5], mu) == priority_waits(n, [1.0, 2.0, 0.5], mu).mean_wait


def test_no_arrivals_no_wait():
    r = priority_waits(3, [0.0, 0.0], 1.0)
    assert r.p_wait == 0 and r.mean_wait == (0.0, 0.0) and r.mean_queue == (0.0, 0.0)
    assert r.p_wait_gt(1, 0.0) == 0.0 and r.service_level(1, 0.0) == 1.0


@pytest.mark.parametrize("args, names", [
    ((0, [1.0], 1.0), r"n \(the number of servers\) must be an integer >= 1, got 0"),
    ((2.5, [1.0], 1.0), r"n \(the number of servers\) .* got 2.5"),
    ((True, [0.1], 1.0), r"n \(the number of servers\) .* got True"),
    ((2, [], 1.0), "lambdas must be a non-empty sequence"),
    ((2, 1.0, 1.0), "lambdas must be a non-empty sequence"),
    ((2, [0.5, -0.1], 1.0), r"lambdas\[1\] must be a finite rate >= 0"),
    ((2, [math.nan], 1.0), r"lambdas\[0\] must be a finite rate >= 0"),
    ((2, [0.5], 0.0), r"mu \(the service rate per server\) must be a finite number > 0"),
    ((2, [0.5], -1.0), "mu"),
    ((2, [1.0, 1.0], 1.0), r"total load sum\(lambdas\) / \(n \* mu\) = 1 must be < 1"),
    ((1, [0.7, 0.4], 1.0), r"= 1.1 must be < 1"),
])
def test_bad_arguments_are_refused_by_name(args, names):
    with pytest.raises(ValueError, match=names):
        priority_waits(*args)


def test_a_class_out_of_range_is_named():
    r = priority_waits(2, [0.5, 0.5], 1.0)
    with pytest.raises(IndexError, match="0 \\(highest priority\\) to 1"):
        r.p_wait_gt(2, 1.0)


# -- the estimate uses Cobham when services of different priority share a group ---------------------
MINUTE = {"kind": "exponential", "mean": 60}  # handle time: mu = 1 per minute


def group_scenario(services: list[dict], agents: int | dict = 6, **group) -> Scenario:
    """Services entering one group of ``agents`` single-chat agents, handle time 60 s (mu 1 per minute)."""
    return scenario_from_dict({
        "name": "shared", "simulation": {"horizon": "4h", "warmup": "10m", "replications": 2, "seed": 4},
        "services": [{"entry_group": "agents", **s} for s in services],
        "groups": [{"name": "agents", "agents": agents, "max_concurrent": 1, "handle_time": MINUTE, **group}]})


def per_hour(rate: float) -> dict:
    return {"kind": "poisson", "rate_per_hour": rate}


def test_estimate_gives_each_priority_level_cobhams_wait():
    sc = group_scenario([{"name": "low", "arrivals": per_hour(120)},
                         {"name": "vip", "priority": 5, "arrivals": per_hour(60)},
                         {"name": "mid", "priority": 2, "arrivals": per_hour(90)},
                         {"name": "mid2", "priority": 2, "arrivals": per_hour(30)}])
    df = estimate(sc).set_index("service")
    waits = cobham_waits(6, (1.0, 2.0, 2.0), 1.0)  # vip, mid + mid2 (one level), low; per minute
    assert df.loc[["vip", "mid", "mid2", "low"], "queue_wait_mean_s"].tolist() == pytest.approx(
        [60 * waits[0], 60 * waits[1], 60 * waits[1], 60 * waits[2]], rel=1e-12)
    assert df.loc[["vip", "mid", "mid2", "low"], "queue_model"].tolist() == [
        "M/M/6 priority 1/3", "M/M/6 priority 2/3", "M/M/6 priority 2/3", "M/M/6 priority 3/3"]
    assert (df.queue_p_abandon == 0).all()
    # the same arrivals first come first served: every service waits Erlang C's mean wait
    same = estimate(group_scenario([{"name": n, "arrivals": per_hour(r)} for n, r in
                                    (("low", 120), ("vip", 60), ("mid", 90), ("mid2", 30))]))
    assert same.queue_wait_mean_s.tolist() == pytest.approx([60 * erlang_c_wait(6, 5.0, 1.0)] * 4, rel=1e-12)
    assert set(same.queue_model) == {"M/M/6"}
    flows = df.loc[["vip", "mid", "mid2", "low"], "entry_per_hour"].to_numpy()
    assert flows @ df.loc[["vip", "mid", "mid2", "low"], "queue_wait_mean_s"].to_numpy() / flows.sum() == \
        pytest.approx(same.queue_wait_mean_s[0], rel=1e-12)  # conservation, through the estimate


def test_estimate_with_patience_keeps_the_pooled_abandonment_and_says_so():
    pooled = group_scenario([{"name": "std", "arrivals": per_hour(200)},
                             {"name": "vip", "arrivals": per_hour(100),
                              "patience": {"kind": "exponential", "mean": 120}}], agents=5)
    ranked = pooled.with_changes({"services.vip.priority": 1})
    a, b = estimate(pooled).set_index("service"), estimate(ranked).set_index("service")
    assert b.loc["vip", "queue_p_abandon"] == a.loc["vip", "queue_p_abandon"] > 0
    assert b.loc["vip", "queue_model"] == a.loc["vip", "queue_model"] == "M/M/5+M"
    assert math.isnan(b.loc["vip", "queue_wait_mean_s"]) and math.isnan(a.loc["vip", "queue_wait_mean_s"])
    # the impatient VIPs' load still counts (as if none left) for the wait of the service without patience
    assert b.loc["std", "queue_wait_mean_s"] == pytest.approx(60 * cobham_waits(5, (100 / 60, 200 / 60), 1.0)[1])
    assert b.loc["std", "queue_model"] == "M/M/5 priority 2/2"
    line = next(a for a in b.attrs["assumptions"] if a.startswith("Priorities"))
    assert "Cobham" in line and "pooled" in line and "priority_aging is ignored" in line
    assert b.attrs["assumptions"] == list(ESTIMATE_ASSUMPTIONS) and "queue_wait_mean_s" in ESTIMATE_COLUMNS


def test_estimate_counts_transfers_at_their_services_level():
    """Transfers into a group join their service's priority level; the top level still waits finitely
    when the group is overloaded, the starved level waits without bound."""
    sc = scenario_from_dict({
        "name": "two-stage", "simulation": {"horizon": "4h", "warmup": "10m", "replications": 2, "seed": 4},
        "services": [{"name": "vip", "entry_group": "front", "priority": 1, "arrivals": per_hour(60)},
                     {"name": "std", "entry_group": "back", "arrivals": per_hour(150)}],
        "groups": [{"name": "front", "agents": 20, "max_concurrent": 1, "handle_time": MINUTE,
                    "transfers": [{"to": "back", "probability": 0.5}]},
                   {"name": "back", "agents": 3, "max_concurrent": 1, "handle_time": MINUTE}]})
    df = estimate(sc).set_index(["group", "service"])
    assert df.loc[("back", "vip"), "transfers_in_per_hour"] == pytest.approx(30.0)
    assert math.isnan(df.loc[("back", "vip"), "queue_wait_mean_s"])  # no new VIP contacts enter back
    waits = cobham_waits(3, (0.5, 2.5), 1.0)  # 0.5 + 2.5 = 3 per minute: saturated
    assert waits[1] == math.inf and df.loc[("back", "std"), "queue_wait_mean_s"] == math.inf
    assert df.loc[("front", "vip"), "queue_wait_mean_s"] == pytest.approx(60 * erlang_c_wait(20, 1.0, 1.0))
    assert df.loc[("back", "std"), "queue_model"] == "M/M/3 priority 2/2"


def test_estimate_by_interval_waits_without_bound_while_nobody_is_on_shift():
    sc = group_scenario([{"name": "std", "arrivals": per_hour(60)}, {"name": "vip", "priority": 1,
                         "arrivals": per_hour(30)}], agents={"profile": [["00:00", 0], ["01:00", 4]]})
    sc = sc.with_changes({"simulation.horizon": "2h", "simulation.warmup": 0})
    df = estimate(sc, by="1h").set_index(["interval", "service"])
    assert df.loc[("00:00", "vip"), "queue_wait_mean_s"] == math.inf
    assert df.loc[("01:00", "vip"), "queue_wait_mean_s"] == pytest.approx(60 * cobham_waits(4, (0.5, 1.0), 1.0)[0])


def test_estimate_next_to_a_simulation_shows_each_services_wait(tmp_path):
    """``estimate --simulate`` puts the estimate's wait_mean per service (no patience) next to the run's."""
    from model.estimate_intervals import compare
    from model.sim import simulate

    sc = group_scenario([{"name": "std", "arrivals": per_hour(100)}, {"name": "vip", "priority": 1,
                         "arrivals": per_hour(50), "patience": {"kind": "exponential", "mean": 300}}], agents=3)
    est = estimate(sc)
    result = simulate(sc, replications=2, keep_events=False, timeline_step=None)
    table = compare(est, result.metrics).set_index(["figure", "key"])
    assert table.loc[("wait_mean", "std"), "analytic"] == pytest.approx(est.queue_wait_mean_s[0])
    assert table.loc[("wait_mean", "std"), "simulated"] > 0
    assert ("wait_mean", "vip") not in table.index  # with patience the estimate has no wait: no row
