"""The M/M/n+G queue (general patience; Baccelli & Hebuterne 1981, Zeltyn & Mandelbaum 2005) and its
specialisations for a transfer timeout: M/M/n+D (deterministic patience) and M/M/n+min(D, Exp).

Units and the waiting-time vocabulary (``V``, ``tau``, ``W``): see :mod:`model.analytic`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from scipy import integrate, optimize, special

from ._numerics import check_n, check_pos, expit_log, log_inv_erlang_b

__all__ = ["MMNGResult", "mmn_d", "mmn_d_exp", "mmng"]

# Log-density drop at which an integrand e^{f} is treated as zero (e^-60 ~ 1e-26).
_TAIL_LOG_DROP = 60.0


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
    n = check_n(n)
    lam = check_pos("lam", lam, allow_zero=True)
    mu = check_pos("mu", mu)
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
    log_e = log_inv_erlang_b(n - 1, a)
    j_hat = integral(None)
    log_lam_j = math.log(lam) + m + math.log(j_hat)
    p_wait = expit_log(log_lam_j, log_e)
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
    n = check_n(n)
    lam = check_pos("lam", lam, allow_zero=True)
    mu = check_pos("mu", mu)
    dd = check_pos("timeout", timeout, allow_zero=True)

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
    log_e = log_inv_erlang_b(n - 1, lam / mu)
    p_wait = expit_log(math.log(lam) + m + math.log(j_hat), log_e)
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
    theta = check_pos("theta", theta, allow_zero=True)
    dd = check_pos("timeout", timeout, allow_zero=True)
    if theta == 0.0:
        return mmn_d(n, lam, mu, dd)

    def survival(x: float) -> float:
        return math.exp(-theta * x) if x < dd else 0.0

    def big_h(x: float) -> float:
        return -math.expm1(-theta * min(max(x, 0.0), dd)) / theta

    return mmng(n, lam, mu, survival, integrated_survival=big_h, breakpoints=(dd,))
