"""The Erlang family: B (M/M/n/n), C (M/M/n), A (M/M/n+M, exponential patience), its exact
birth-death oracle and Erlang-A staffing.

Units and the waiting-time vocabulary (``V``, ``tau``, ``W``): see :mod:`model.analytic`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ._numerics import check_n, check_pos, log_kummer, log_r, smallest_meeting

__all__ = [
    "ErlangAResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_service_level",
    "erlang_c_wait",
    "mmn_birth_death",
    "staffing_erlang_a",
]


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of M/M/n/n with offered ``load = lam/mu`` Erlangs.

    Computed as 1/(1 + sum_{j<n} (a^j/j!)/(a^n/n!)) with ``logsumexp``, so it
    neither overflows nor underflows for large n or load.
    """
    n = check_n(n)
    a = check_pos("load", load, allow_zero=True)
    if a == 0.0:
        return 0.0
    return float(special.expit(-log_r(n, a)))


def erlang_c(n: int, load: float) -> float:
    """P(wait > 0) in M/M/n (Erlang C); 1 when ``load >= n`` (unstable queue).

    Uses 1/C = 1 + (1 - rho)(1/B - 1) with rho = load/n, evaluated in logs.
    """
    n = check_n(n)
    a = check_pos("load", load, allow_zero=True)
    if a == 0.0:
        return 0.0
    if a >= n:
        return 1.0
    return float(special.expit(-(math.log1p(-a / n) + log_r(n, a))))


def erlang_c_wait(n: int, lam: float, mu: float) -> float:
    """Mean queueing time E[W] of M/M/n over all arrivals: C / (n mu - lam); inf if lam >= n mu."""
    n = check_n(n)
    lam = check_pos("lam", lam, allow_zero=True)
    mu = check_pos("mu", mu)
    if lam >= n * mu:
        return math.inf
    return erlang_c(n, lam / mu) / (n * mu - lam)


def erlang_c_service_level(n: int, lam: float, mu: float, t: float) -> float:
    """P(W <= t) in M/M/n: 1 - C exp(-(n mu - lam) t); 0 if the queue is unstable."""
    n = check_n(n)
    lam = check_pos("lam", lam, allow_zero=True)
    mu = check_pos("mu", mu)
    t = check_pos("t", t, allow_zero=True)
    if lam >= n * mu:
        return 0.0
    return float(1.0 - erlang_c(n, lam / mu) * math.exp(-(n * mu - lam) * t))


@dataclass(frozen=True)
class ErlangAResult:
    """Stationary performance of M/M/n+M (Erlang A).

    ``p_wait`` = P(W > 0); ``p_abandon`` = P(arrival abandons);
    ``mean_wait`` = E[W] over all arrivals (= p_abandon / theta).
    """

    n: int
    lam: float
    mu: float
    theta: float
    p_wait: float
    p_abandon: float
    mean_wait: float
    _log_a0: float = field(repr=False, default=0.0)  # log A(n mu/theta, lam/theta)

    def _conditional_tail(self, t: float, shift: int) -> float:
        # gamma_lower(x+shift, y e^{-theta t}) normalised; see p_offered_wait_gt / service_level.
        x = self.n * self.mu / self.theta
        y = self.lam / self.theta
        zt = y * math.exp(-self.theta * t)
        log_ratio = (
            -(x + shift) * self.theta * t
            - y * math.expm1(-self.theta * t)
            + log_kummer(x + shift, zt)
            - self._log_a0
            + math.log(x / (x + shift))
        )
        return math.exp(log_ratio)

    def p_offered_wait_gt(self, t: float) -> float:
        """P(V > t) for the offered wait V: P(W>0) * gamma(x, y e^{-theta t}) / gamma(x, y), x = n mu/theta, y = lam/theta."""
        if t < 0:
            return 1.0
        if self.p_wait == 0.0:
            return 0.0
        return min(1.0, self.p_wait * self._conditional_tail(t, 0))

    def p_wait_gt(self, t: float) -> float:
        """P(W > t) for the actual queue time W = min(V, patience): e^{-theta t} P(V > t)."""
        if t < 0:
            return 1.0
        return math.exp(-self.theta * t) * self.p_offered_wait_gt(t)

    def p_served_after(self, t: float) -> float:
        """P(served and W > t) = P(W>0) * gamma(x+1, y e^{-theta t}) / (y gamma(x, y))."""
        if t < 0:
            return 1.0 - self.p_abandon
        if self.p_wait == 0.0:
            return 0.0
        return min(1.0, self.p_wait * self._conditional_tail(t, 1))

    def service_level(self, t: float) -> float:
        """P(served and W <= t): answered within t (pyworkforce ErlangA.service_level definition)."""
        if t < 0:
            return 0.0
        return float(min(1.0, max(0.0, 1.0 - self.p_abandon - self.p_served_after(t))))


def erlang_a(n: int, lam: float, mu: float, theta: float) -> ErlangAResult:
    """Erlang A (M/M/n+M) via the exact incomplete-gamma formulas (Mandelbaum & Zeltyn).

    With x = n mu/theta, y = lam/theta, A = A(x, y), B = erlang_b(n, lam/mu):
    P(W>0) = A B / (1 + (A-1) B), P(Ab | W>0) = 1/(rho A) + 1 - 1/rho
    (= 1F1(2; x+2; y) / ((x+1) A) when rho <= 1, which avoids cancellation),
    E[W] = P(Ab)/theta. Stable for any load, including lam > n mu.
    """
    n = check_n(n)
    lam = check_pos("lam", lam, allow_zero=True)
    mu = check_pos("mu", mu)
    theta = check_pos("theta", theta)
    if lam == 0.0:
        return ErlangAResult(n, lam, mu, theta, 0.0, 0.0, 0.0, 0.0)
    x = n * mu / theta
    y = lam / theta
    log_a0 = log_kummer(x, y)
    p_wait = float(special.expit(log_a0 - log_r(n, lam / mu)))
    if y > x:
        rho = y / x
        p_ab_cond = math.exp(-log_a0) / rho + (1.0 - 1.0 / rho)
    else:
        p_ab_cond = math.exp(math.log(float(special.hyp1f1(2.0, x + 2.0, y))) - math.log(x + 1.0) - log_a0)
    p_abandon = p_wait * min(1.0, p_ab_cond)
    return ErlangAResult(n, lam, mu, theta, p_wait, p_abandon, p_abandon / theta, log_a0)


def mmn_birth_death(n: int, lam: float, mu: float, theta: float, kmax: int | None = None) -> dict[str, object]:
    """Exact numeric M/M/n+M solution from the truncated birth-death chain (test oracle).

    States 0..n+kmax; death rate min(k, n) mu + max(k - n, 0) theta. Stationary
    log-probabilities are built by cumulative sums and normalised by logsumexp.
    Returns p_wait, p_abandon (= theta E[Q]/lam), mean_queue_length,
    mean_wait (= E[Q]/lam, Little, over all arrivals) and probs.
    """
    n = check_n(n)
    lam = check_pos("lam", lam)
    mu = check_pos("mu", mu)
    theta = check_pos("theta", theta)
    if kmax is None:
        peak = max(0.0, (lam - n * mu) / theta)
        kmax = int(peak + 40.0 * math.sqrt(lam / theta + 1.0) + 200)
    k = np.arange(1, n + 1, dtype=float)
    log_low = np.concatenate(([0.0], np.cumsum(np.log(lam / (k * mu)))))
    i = np.arange(1, kmax + 1, dtype=float)
    log_high = log_low[-1] + np.cumsum(np.log(lam / (n * mu + i * theta)))
    logp = np.concatenate((log_low, log_high))
    logp -= special.logsumexp(logp)
    if logp[-1] > logp.max() - 40:
        raise ValueError("kmax too small for the truncated chain")
    probs = np.exp(logp)
    p_wait = float(probs[n:].sum())
    mean_q = float(np.dot(np.arange(kmax + 1), probs[n:]))
    return {
        "p_wait": p_wait,
        "p_abandon": theta * mean_q / lam,
        "mean_queue_length": mean_q,
        "mean_wait": mean_q / lam,
        "probs": probs,
    }


def staffing_erlang_a(lam: float, mu: float, theta: float, target_abandon: float) -> int:
    """Smallest n with Erlang-A P(abandon) <= target_abandon (monotone search: doubling then bisection)."""
    if not 0.0 < target_abandon <= 1.0:
        raise ValueError(f"target_abandon must be in (0, 1], got {target_abandon!r}")

    n = smallest_meeting(lambda n: erlang_a(n, lam, mu, theta).p_abandon <= target_abandon, start=1)
    assert n is not None  # no cap: the search ends where P(abandon) falls below the target
    return n
