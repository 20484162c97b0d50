"""Closed-form and numerical queueing formulas used to validate the simulator.

Models: Erlang B (M/M/n/n), Erlang C (M/M/n), Erlang A (M/M/n+M, exponential
patience), the general M/M/n+G queue (Baccelli & Hebuterne 1981; Zeltyn &
Mandelbaum 2005), and its specialisations for a transfer timeout: M/M/n+D
(deterministic patience) and M/M/n+min(D, Exp).

Units: every rate (``lam`` arrivals, ``mu`` service completions per agent,
``theta`` abandonments per waiting customer) is "per unit time" in one
consistent unit of your choice; times (``t``, ``timeout``, mean waits) are then
in that same unit. ``load = lam / mu`` is the offered load in Erlangs.

Numerics: everything is computed in log space (``logsumexp``, ``gammaln``,
``gammainc``/``hyp1f1``, scaled ``quad`` integrands) so results stay finite and
accurate for up to ~1000+ agents and for offered loads above ``n``.

Waiting-time vocabulary (as in Zeltyn & Mandelbaum 2005):

* ``V`` - the *offered* (virtual) wait: the time an arrival would wait for an
  agent if it were infinitely patient.
* ``tau`` - the arrival's patience, with survival ``G(x) = P(tau > x)``.
* ``W = min(V, tau)`` - the *actual* time spent in queue, until service or
  abandonment. The arrival abandons iff ``tau < V`` (for a deterministic
  patience ``D``: iff ``V >= D``; its wait then equals ``D`` exactly, so
  ``P(W > D) = 0`` and ``P(abandon) = P(W >= D) = P(V >= D)``).

Result objects expose ``p_wait = P(V > 0) = P(W > 0)``, ``p_abandon``,
``mean_wait = E[W]`` over all arrivals (served and abandoning),
``p_wait_gt(t) = P(W > t)``, ``p_offered_wait_gt(t) = P(V > t)`` and
``service_level(t) = P(served and W <= t)`` (the pyworkforce ``ErlangA``
definition: abandoning arrivals never count as answered within ``t``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import integrate, optimize, special

__all__ = [
    "ErlangAResult",
    "MMNGResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_service_level",
    "erlang_c_wait",
    "mmn_birth_death",
    "mmn_d",
    "mmn_d_exp",
    "mmng",
    "staffing_erlang_a",
]

# Log-density drop at which an integrand e^{f} is treated as zero (e^-60 ~ 1e-26).
_TAIL_LOG_DROP = 60.0


# ---------------------------------------------------------------------------
# validation and log-space helpers
# ---------------------------------------------------------------------------


def _check_n(n: int) -> int:
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _check_pos(name: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, got {value!r}")
    return v


def _log_inv_erlang_b(k: int, a: float) -> float:
    """log(1 / B(k, a)) = log(sum_{j<=k} a^j/j!) - log(a^k/k!), for a > 0."""
    j = np.arange(k + 1, dtype=float)
    terms = j * math.log(a) - special.gammaln(j + 1.0)
    return float(special.logsumexp(terms) - terms[-1])


def _log_r(n: int, a: float) -> float:
    """log(1/B(n, a) - 1) = log(sum_{j<n} a^j/j! / (a^n/n!)), for a > 0."""
    return _log_inv_erlang_b(n - 1, a) + math.log(n) - math.log(a)


def _log_kummer(x: float, z: float) -> float:
    """log A(x, z), A(x, z) = x e^z z^-x gamma_lower(x, z) = 1F1(1; x+1; z).

    The gamma form is used while the regularised ``gammainc`` is representable
    (heavy traffic, where A is astronomically large); otherwise (z << x, A is
    moderate) ``hyp1f1`` is evaluated directly.
    """
    if z <= 0.0:
        return 0.0
    p = float(special.gammainc(x, z))
    if p > 1e-250:
        return math.log(x) + z - x * math.log(z) + float(special.gammaln(x)) + math.log(p)
    return math.log(float(special.hyp1f1(1.0, x + 1.0, z)))


def _expit_log(log_num: float, log_den: float) -> float:
    """num / (num + den) from logs, without overflow."""
    return float(special.expit(log_num - log_den))


# ---------------------------------------------------------------------------
# Erlang B / C
# ---------------------------------------------------------------------------


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of M/M/n/n with offered ``load = lam/mu`` Erlangs.

    Computed as 1/(1 + sum_{j<n} (a^j/j!)/(a^n/n!)) with ``logsumexp``, so it
    neither overflows nor underflows for large n or load.
    """
    n = _check_n(n)
    a = _check_pos("load", load, allow_zero=True)
    if a == 0.0:
        return 0.0
    return float(special.expit(-_log_r(n, a)))


def erlang_c(n: int, load: float) -> float:
    """P(wait > 0) in M/M/n (Erlang C); 1 when ``load >= n`` (unstable queue).

    Uses 1/C = 1 + (1 - rho)(1/B - 1) with rho = load/n, evaluated in logs.
    """
    n = _check_n(n)
    a = _check_pos("load", load, allow_zero=True)
    if a == 0.0:
        return 0.0
    if a >= n:
        return 1.0
    return float(special.expit(-(math.log1p(-a / n) + _log_r(n, a))))


def erlang_c_wait(n: int, lam: float, mu: float) -> float:
    """Mean queueing time E[W] of M/M/n over all arrivals: C / (n mu - lam); inf if lam >= n mu."""
    n = _check_n(n)
    lam = _check_pos("lam", lam, allow_zero=True)
    mu = _check_pos("mu", mu)
    if lam >= n * mu:
        return math.inf
    return erlang_c(n, lam / mu) / (n * mu - lam)


def erlang_c_service_level(n: int, lam: float, mu: float, t: float) -> float:
    """P(W <= t) in M/M/n: 1 - C exp(-(n mu - lam) t); 0 if the queue is unstable."""
    n = _check_n(n)
    lam = _check_pos("lam", lam, allow_zero=True)
    mu = _check_pos("mu", mu)
    t = _check_pos("t", t, allow_zero=True)
    if lam >= n * mu:
        return 0.0
    return float(1.0 - erlang_c(n, lam / mu) * math.exp(-(n * mu - lam) * t))


# ---------------------------------------------------------------------------
# Erlang A (M/M/n+M)
# ---------------------------------------------------------------------------


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
            + _log_kummer(x + shift, zt)
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
    n = _check_n(n)
    lam = _check_pos("lam", lam, allow_zero=True)
    mu = _check_pos("mu", mu)
    theta = _check_pos("theta", theta)
    if lam == 0.0:
        return ErlangAResult(n, lam, mu, theta, 0.0, 0.0, 0.0, 0.0)
    x = n * mu / theta
    y = lam / theta
    log_a0 = _log_kummer(x, y)
    p_wait = float(special.expit(log_a0 - _log_r(n, lam / mu)))
    if y > x:
        rho = y / x
        p_ab_cond = math.exp(-log_a0) / rho + (1.0 - 1.0 / rho)
    else:
        p_ab_cond = math.exp(math.log(float(special.hyp1f1(2.0, x + 2.0, y))) - math.log(x + 1.0) - log_a0)
    p_abandon = p_wait * min(1.0, p_ab_cond)
    return ErlangAResult(n, lam, mu, theta, p_wait, p_abandon, p_abandon / theta, log_a0)


# ---------------------------------------------------------------------------
# M/M/n+G
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MMNGResult:
    """Stationary performance of M/M/n+G (general patience survival G).

    ``p_wait`` = P(W > 0); ``p_abandon`` = P(patience < offered wait);
    ``mean_wait`` = E[W] = E[min(V, tau)] over all arrivals.
    """

    n: int
    lam: float
    mu: float
    p_wait: float
    p_abandon: float
    mean_wait: float
    _offered_tail: Callable[[float], float] = field(repr=False, compare=False, default=lambda t: 0.0)
    _served_tail: Callable[[float], float] = field(repr=False, compare=False, default=lambda t: 0.0)
    _survival: Callable[[float], float] = field(repr=False, compare=False, default=lambda t: 1.0)

    def p_offered_wait_gt(self, t: float) -> float:
        """P(V > t): the offered wait exceeds t (as if the arrival were infinitely patient)."""
        if t < 0:
            return 1.0
        return float(min(1.0, max(0.0, self._offered_tail(t))))

    def p_wait_gt(self, t: float) -> float:
        """P(W > t) = G(t) P(V > t) for the actual queue time W = min(V, tau)."""
        if t < 0:
            return 1.0
        return float(self._survival(t)) * self.p_offered_wait_gt(t)

    def p_served_after(self, t: float) -> float:
        """P(served and W > t) = lam pi_{n-1} int_t^inf G(x) e^{lam H(x) - n mu x} dx."""
        if t < 0:
            return 1.0 - self.p_abandon
        return float(min(1.0, max(0.0, self._served_tail(t))))

    def service_level(self, t: float) -> float:
        """P(served and W <= t): answered within t; abandoning arrivals never count."""
        if t < 0:
            return 0.0
        return float(min(1.0, max(0.0, 1.0 - self.p_abandon - self.p_served_after(t))))


def mmng(
    n: int,
    lam: float,
    mu: float,
    survival: Callable[[float], float],
    *,
    integrated_survival: Callable[[float], float] | None = None,
    breakpoints: Sequence[float] = (),
) -> MMNGResult:
    """M/M/n+G stationary performance (Baccelli & Hebuterne 1981; Zeltyn & Mandelbaum 2005, sec. 2).

    ``survival(x)`` = P(patience > x) (right-continuous, non-increasing).
    With H(x) = int_0^x G(u) du, f(x) = lam H(x) - n mu x, J = int_0^inf e^f,
    E = sum_{j<n} a^j/j! / (a^{n-1}/(n-1)!) and pi_{n-1} = 1/(E + lam J):
    P(V > t) = lam pi_{n-1} int_t^inf e^f, P(W>0) = lam J pi_{n-1},
    P(Ab) = lam pi_{n-1} int (1-G) e^f, E[W] = lam pi_{n-1} int H e^f.
    Integrals use ``quad`` on e^{f - max f} over a geometric grid around the
    maximiser of the (concave) f, so nothing overflows. ``integrated_survival``
    (H in closed form) avoids nested quadrature; ``breakpoints`` lists jump
    points of G (e.g. a timeout) so quadrature never straddles a jump.
    """
    n = _check_n(n)
    lam = _check_pos("lam", lam, allow_zero=True)
    mu = _check_pos("mu", mu)
    nmu = n * mu
    jumps = sorted({float(b) for b in breakpoints if b > 0 and math.isfinite(b)})
    if lam == 0.0:
        return MMNGResult(n, lam, mu, 0.0, 0.0, 0.0, lambda t: 0.0, lambda t: 0.0, survival)

    if integrated_survival is None:

        @lru_cache(maxsize=None)
        def big_h(x: float) -> float:
            if x <= 0:
                return 0.0
            edges = [0.0] + [b for b in jumps if b < x] + [x]
            return sum(
                integrate.quad(survival, lo, hi, limit=200, epsabs=0.0, epsrel=1e-12)[0]
                for lo, hi in zip(edges[:-1], edges[1:])
            )

    else:
        big_h = integrated_survival

    def f_raw(x: float) -> float:
        return lam * big_h(x) - nmu * x

    # maximiser of the concave f: where lam G(x) crosses n mu
    if lam * survival(0.0) <= nmu:
        x_star = 0.0
    else:
        hi = 1.0 / nmu
        while lam * survival(hi) > nmu:
            hi *= 2.0
            if hi > 1e15:
                raise ValueError("unstable: lam * P(patience = inf) >= n * mu")
        x_star = optimize.brentq(lambda x: lam * survival(x) - nmu, 0.0, hi, xtol=1e-14 * hi, rtol=1e-15)
        # a maximiser at a jump of G: snap onto it so no sliver segment straddles the jump
        x_star = next((b for b in jumps if abs(b - x_star) <= 1e-9 * max(1.0, b)), x_star)
    m = f_raw(x_star)

    @lru_cache(maxsize=None)
    def f(x: float) -> float:
        return f_raw(x) - m

    # geometric grid around x_star, both ways, until e^{f} is negligible
    step = 0.05 / (nmu + lam)
    grid = {x_star}
    d = step
    while x_star - d > 0 and f(x_star - d) > -_TAIL_LOG_DROP:
        grid.add(x_star - d)
        d *= 2.0
    lower = max(0.0, x_star - d)
    grid.add(lower)
    d = step
    while True:
        grid.add(x_star + d)
        if f(x_star + d) < -_TAIL_LOG_DROP:
            break
        d *= 2.0
        if d > 1e15:
            raise ValueError("unstable: lam * P(patience = inf) >= n * mu")
    upper = x_star + d
    grid.update(b for b in jumps if lower < b < upper)
    nodes = sorted(grid)

    def integral(g: Callable[[float], float] | None, start: float = 0.0) -> float:
        """int_start^inf g(x) e^{f(x)} dx (scaled by e^{-m})."""
        if g is None:

            def integrand(x: float) -> float:
                return math.exp(f(x))

        else:

            def integrand(x: float) -> float:
                return g(x) * math.exp(f(x))

        start = max(start, lower)
        edges = [start] + [x for x in nodes if x > start]
        total = 0.0
        for lo, hi in zip(edges[:-1], edges[1:]):
            total += integrate.quad(integrand, lo, hi, limit=200, epsabs=1e-15, epsrel=1e-11)[0]
        return total

    a = lam / mu
    log_e = _log_inv_erlang_b(n - 1, a)
    j_hat = integral(None)
    log_lam_j = math.log(lam) + m + math.log(j_hat)
    p_wait = _expit_log(log_lam_j, log_e)
    p_abandon = p_wait * integral(lambda x: 1.0 - survival(x)) / j_hat
    mean_wait = p_wait * integral(big_h) / j_hat

    def offered_tail(t: float) -> float:
        return p_wait * integral(None, t) / j_hat

    def served_tail(t: float) -> float:
        return p_wait * integral(survival, t) / j_hat

    return MMNGResult(n, lam, mu, p_wait, min(1.0, p_abandon), mean_wait, offered_tail, served_tail, survival)


def _exp_integral(c: float, lo: float, hi: float, log_scale: float) -> float:
    """e^{-log_scale} int_lo^hi e^{c x} dx, stable for any sign of c (via exprel)."""
    width = hi - lo
    if width <= 0:
        return 0.0
    if c > 0:
        return math.exp(c * hi - log_scale) * width * float(special.exprel(-c * width))
    return math.exp(c * lo - log_scale) * width * float(special.exprel(c * width))


def _x_exp_integral_unit(z: float, log_scale: float) -> float:
    """e^{-log_scale} int_0^1 u e^{z u} du, stable for any z."""
    if abs(z) < 1e-3:
        return math.exp(-log_scale) * (0.5 + z / 3.0 + z * z / 8.0 + z**3 / 30.0)
    if z > 0:
        return math.exp(z - log_scale) * (z + math.expm1(-z)) / (z * z)
    return math.exp(-log_scale) * (z * math.exp(z) - math.expm1(z)) / (z * z)


def mmn_d(n: int, lam: float, mu: float, timeout: float) -> MMNGResult:
    """M/M/n+D: every waiting arrival leaves when its wait reaches ``timeout`` D.

    Closed form of :func:`mmng` with G(x) = 1{x < D}, H(x) = min(x, D):
    with c = lam - n mu, J = int_0^D e^{cx} dx + e^{cD}/(n mu).
    P(abandon) = P(V >= D) = lam pi_{n-1} e^{cD}/(n mu); W = min(V, D).
    """
    n = _check_n(n)
    lam = _check_pos("lam", lam, allow_zero=True)
    mu = _check_pos("mu", mu)
    dd = _check_pos("timeout", timeout, allow_zero=True)

    def survival(x: float) -> float:
        return 1.0 if x < dd else 0.0

    if lam == 0.0:
        return MMNGResult(n, lam, mu, 0.0, 0.0, 0.0, lambda t: 0.0, lambda t: 0.0, survival)
    nmu = n * mu
    c = lam - nmu
    m = max(0.0, c * dd)  # log max of e^{f}

    def tail(t: float) -> float:  # e^{-m} int_t^inf e^{f}
        if t >= dd:
            return math.exp(lam * dd - nmu * t - m) / nmu
        return _exp_integral(c, t, dd, m) + math.exp(c * dd - m) / nmu

    j_hat = tail(0.0)
    log_e = _log_inv_erlang_b(n - 1, lam / mu)
    p_wait = _expit_log(math.log(lam) + m + math.log(j_hat), log_e)
    p_abandon = p_wait * (math.exp(c * dd - m) / nmu) / j_hat
    # int H e^f = int_0^D x e^{cx} dx + D e^{cD}/(n mu)
    h_int = dd * dd * _x_exp_integral_unit(c * dd, m) + dd * math.exp(c * dd - m) / nmu
    mean_wait = p_wait * h_int / j_hat

    def offered_tail(t: float) -> float:
        return p_wait * tail(t) / j_hat

    def served_tail(t: float) -> float:
        return p_wait * _exp_integral(c, t, dd, m) / j_hat if t < dd else 0.0

    return MMNGResult(n, lam, mu, p_wait, min(1.0, p_abandon), mean_wait, offered_tail, served_tail, survival)


def mmn_d_exp(n: int, lam: float, mu: float, timeout: float, theta: float) -> MMNGResult:
    """M/M/n+G with patience min(D, Exp(theta)): impatient customers plus a transfer timeout D.

    G(x) = e^{-theta x} for x < D, 0 after; H(x) = (1 - e^{-theta min(x, D)})/theta
    in closed form; the integrals of e^{lam H - n mu x} go through :func:`mmng`
    with a breakpoint at D (exact Erlang-A pieces below D would cancel badly
    in heavy traffic). theta = 0 reduces to :func:`mmn_d`.
    """
    theta = _check_pos("theta", theta, allow_zero=True)
    dd = _check_pos("timeout", timeout, allow_zero=True)
    if theta == 0.0:
        return mmn_d(n, lam, mu, dd)

    def survival(x: float) -> float:
        return math.exp(-theta * x) if x < dd else 0.0

    def big_h(x: float) -> float:
        return -math.expm1(-theta * min(max(x, 0.0), dd)) / theta

    return mmng(n, lam, mu, survival, integrated_survival=big_h, breakpoints=(dd,))


# ---------------------------------------------------------------------------
# oracle and staffing
# ---------------------------------------------------------------------------


def mmn_birth_death(n: int, lam: float, mu: float, theta: float, kmax: int | None = None) -> dict[str, object]:
    """Exact numeric M/M/n+M solution from the truncated birth-death chain (test oracle).

    States 0..n+kmax; death rate min(k, n) mu + max(k - n, 0) theta. Stationary
    log-probabilities are built by cumulative sums and normalised by logsumexp.
    Returns p_wait, p_abandon (= theta E[Q]/lam), mean_queue_length,
    mean_wait (= E[Q]/lam, Little, over all arrivals) and probs.
    """
    n = _check_n(n)
    lam = _check_pos("lam", lam)
    mu = _check_pos("mu", mu)
    theta = _check_pos("theta", theta)
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

    def ok(n: int) -> bool:
        return erlang_a(n, lam, mu, theta).p_abandon <= target_abandon

    hi = 1
    while not ok(hi):
        hi *= 2
    lo = hi // 2  # not ok (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
