"""The queueing formula each flow of the analytic estimate meets, and its name in the table.

Why apart from :mod:`model.estimate`: that module builds the flow network of a scenario and its
rows; this one answers "what is P(abandon), or the mean wait, of one flow meeting n servers?" from
:mod:`model.analytic` (patience turned into survival curves in minutes, memoised answers), and
names the model used (``"M/M/5+M"``, ``"M/M/4..6+G(lognormal)"``, ``"M/M/5 priority 1/2"``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .scenario import Distribution

__all__ = ["Curve", "MAX_BENDS", "queue_model", "transfer_model"]


# -- patience: survival curves in minutes ------------------------------------------------------------
#: at most this many kinks of an empirical patience are handed to the quadrature (see :func:`_curve`)
MAX_BENDS = 500


class Curve(NamedTuple):
    """A patience for M/M/n+G, in minutes: G, H = int G (None: mmng integrates G), the points where G
    bends or jumps, and whether G has more kinks than were handed over (quadrature may then warn)."""

    g: Callable[[float], float]
    h: Callable[[float], float] | None
    bends: tuple[float, ...] = ()
    rough: bool = False


def _partial_mean(dist: Distribution) -> Callable[[float], float] | None:
    """E[X; X <= x] (x in seconds) in closed form for the known kinds, None otherwise.

    Parameters as :mod:`model.scenario.distributions` defines them: lognormal mu, sigma (or sigma^2 =
    ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2); gamma shape 1 / cv^2; erlang shape k; uniform on
    [low, high); empirical linear between its sorted values. Why here and not beside ``survival``:
    only the estimate needs it; tests check it against the integral of ``survival``.
    """
    from scipy import special

    mean, kind = float(dist.mean), dist.kind
    if kind == "lognormal":
        mu_log, sigma = getattr(dist, "mu", None), getattr(dist, "sigma", None)  # the mu/sigma form
        if mu_log is None or sigma is None:
            sigma = math.sqrt(math.log1p(dist.cv**2))  # type: ignore[attr-defined]
            mu_log = math.log(mean) - sigma**2 / 2.0
        m, sg = float(mu_log), float(sigma)

        def lognormal(x: float) -> float:
            return mean * float(special.ndtr((math.log(x) - m - sg * sg) / sg))

        return lognormal
    if kind in ("gamma", "erlang"):
        shape = 1.0 / dist.cv**2 if kind == "gamma" else float(dist.k)  # type: ignore[attr-defined]

        def gamma(x: float) -> float:
            return mean * float(special.gammainc(shape + 1.0, x * shape / mean))

        return gamma
    if kind == "uniform":
        lo, hi = float(dist.low), float(dist.high)  # type: ignore[attr-defined]

        def uniform(x: float) -> float:
            return 0.0 if x <= lo else (min(x, hi) ** 2 - lo**2) / (2.0 * (hi - lo))

        return uniform
    if kind == "empirical":
        return _empirical_partial_mean([float(v) for v in dist.values])  # type: ignore[attr-defined]
    return None


def _empirical_partial_mean(values: Sequence[float]) -> Callable[[float], float]:
    """E[X; X <= x] of the empirical distribution (a CDF linear between the sorted values, each
    step of probability 1 / (n - 1)): on [x_k, x_k+1] the density is 1 / ((n - 1) dx_k)."""
    from bisect import bisect_right

    n = len(values)
    cum = [0.0]  # E[X; X <= x_k]
    for a, b in zip(values[:-1], values[1:]):
        cum.append(cum[-1] + (a + b) / 2.0 / (n - 1))

    def empirical(x: float) -> float:
        k = bisect_right(values, x) - 1
        if k < 0:
            return 0.0
        if k >= n - 1:
            return cum[-1]
        a, b = values[k], values[k + 1]
        return cum[k] + (x * x - a * a) / (2.0 * (b - a) * (n - 1))

    return empirical


def _curve(dist: Distribution) -> Curve:
    """The :class:`Curve` of a patience in minutes: G(x) = P(X > x) from the distribution's
    ``survival``; H(x) = int_0^x G = E[min(X, x)] = x G(x) + E[X; X <= x] in closed form where
    known (else None: mmng integrates G itself); the points where G bends or jumps, for the quadrature."""
    surv = dist.survival

    def g(x: float) -> float:
        return float(surv(60.0 * x)) if x > 0 else 1.0

    part = _partial_mean(dist)
    bends: tuple[float, ...] = ()
    rough = False
    if dist.kind == "uniform":
        bends = (float(dist.low) / 60.0, float(dist.high) / 60.0)  # type: ignore[attr-defined]
    elif dist.kind == "empirical":  # G is linear between the values (and jumps at a repeated one)
        kinks = sorted({v / 60.0 for v in dist.values})  # type: ignore[attr-defined]
        rough = len(kinks) > MAX_BENDS  # thousands of segments would cost seconds per formula
        bends = () if rough else tuple(kinks)
    if part is None:
        return Curve(g, None, bends, rough)
    known = part

    def h(x: float) -> float:
        return (60.0 * x * float(surv(60.0 * x)) + known(60.0 * x)) / 60.0 if x > 0 else 0.0

    return Curve(g, h, bends, rough)


class _Formulas:
    """P(abandon) of one flow meeting n servers (and the mean waits of a group's priority levels),
    memoised on their exact arguments: the fixed point and the stretches of a day ask the same
    questions again, and M/M/n+G costs milliseconds."""

    def __init__(self) -> None:
        self._memo: dict[tuple[object, ...], float] = {}
        self._waits: dict[tuple[object, ...], tuple[float, ...]] = {}
        self._curves: dict[int, Curve] = {}

    def waits(self, n: int, lambdas: tuple[float, ...], mu: float) -> tuple[float, ...]:
        """Mean wait in queue per priority level (highest first) of n servers, as if nobody left:
        Cobham's non-preemptive priority M/M/n (one level: Erlang C); ``inf`` for a level that is
        not served in the long run (its load and the levels' above reach n mu) or with nobody on shift."""
        key = (n, lambdas, mu)
        if key not in self._waits:
            from .analytic import cobham_waits

            self._waits[key] = (math.inf,) * len(lambdas) if n == 0 else cobham_waits(n, lambdas, mu)
        return self._waits[key]

    def _curve(self, dist: Distribution) -> Curve:
        if id(dist) not in self._curves:
            self._curves[id(dist)] = _curve(dist)
        return self._curves[id(dist)]

    def queue(self, n: int, lam: float, mu: float, patience: Distribution | None) -> float:
        """P(abandon) in the entry queue: NaN without arrivals, 1.0 with nobody on shift."""
        if lam <= 0:
            return math.nan
        if n == 0:
            return 1.0
        if patience is None:
            return 0.0 if lam < n * mu else 1.0 - n * mu / lam
        key = ("q", n, lam, mu, id(patience))
        if key not in self._memo:
            from .analytic import erlang_a, mmn_d  # scipy: loaded when first needed

            if patience.kind == "exponential":
                p = erlang_a(n, lam, mu, 60.0 / float(patience.mean)).p_abandon
            elif patience.kind in ("constant", "deterministic"):
                p = mmn_d(n, lam, mu, float(patience.mean) / 60.0).p_abandon
            else:
                p = _mmng(n, lam, mu, self._curve(patience))
            self._memo[key] = p
        return self._memo[key]

    def transfer(self, n: int, lam: float, mu: float, timeout_s: float,
                 patience: Distribution | None) -> float:
        """P(abandon) of a transfer: the timer D or the customer's patience, whichever is first."""
        if lam <= 0:
            return math.nan
        if n == 0 or timeout_s <= 0:
            return 1.0
        key = ("t", n, lam, mu, timeout_s, id(patience))
        if key not in self._memo:
            from .analytic import mmn_d, mmn_d_exp

            d = timeout_s / 60.0
            if patience is None:
                p = mmn_d(n, lam, mu, d).p_abandon
            elif patience.kind == "exponential":
                p = mmn_d_exp(n, lam, mu, d, 60.0 / float(patience.mean)).p_abandon
            elif patience.kind in ("constant", "deterministic"):
                p = mmn_d(n, lam, mu, min(d, float(patience.mean) / 60.0)).p_abandon
            else:
                p = _mmng(n, lam, mu, _capped(self._curve(patience), d))
            self._memo[key] = p
        return self._memo[key]


def _mmng(n: int, lam: float, mu: float, curve: Curve) -> float:
    """P(abandon) of M/M/n+G. A rough curve (an empirical patience of thousands of values) makes quad
    report round-off at mmng's 1e-11 tolerance; the result still agrees with the integration over
    every kink to about 1e-6 (tests/test_estimate_intervals.py), far below the estimate's own error."""
    from scipy.integrate import IntegrationWarning

    from .analytic import mmng

    with warnings.catch_warnings():
        if curve.rough:
            warnings.simplefilter("ignore", IntegrationWarning)
        return mmng(n, lam, mu, curve.g, integrated_survival=curve.h, breakpoints=curve.bends).p_abandon


def _capped(curve: Curve, d: float) -> Curve:
    """The curve of min(D, patience): G(x) 1{x < D}, H(min(x, D)), and D among the jumps."""
    g, h, jumps, rough = curve

    def g_d(x: float) -> float:
        return g(x) if x < d else 0.0

    def h_d(x: float) -> float:
        return h(min(x, d))  # type: ignore[misc]

    return Curve(g_d, None if h is None else h_d, (d, *jumps), rough)


def queue_model(ns: Sequence[int], patience: Distribution | None, level: tuple[int, int] | None = None) -> str:
    """``"M/M/5+M"``, ``"M/M/4..6+G(lognormal)"``, ``"nobody on shift"``: the entry queue's model;
    ``"M/M/5 priority 1/2"`` for a service without patience at priority level 1 (served first) of 2
    (``level``; with patience the pooled model is named, as it is the one used)."""
    if not ns or max(ns) == 0:
        return "nobody on shift"
    kind = None if patience is None else patience.kind
    suffix = {None: "", "exponential": "+M", "constant": "+D", "deterministic": "+D"}.get(kind, f"+G({kind})")
    if level is not None and patience is None:
        suffix = f" priority {level[0]}/{level[1]}"
    return f"M/M/{_n_spec(ns)}{suffix}"


def transfer_model(ns: Sequence[int], timeout_s: float, patience: Distribution | None) -> str:
    """``"M/M/5+D"``, ``"M/M/5+(D,exp)"``, ``"M/M/5+(D,G(gamma))"``: the transfers' model."""
    if timeout_s <= 0:
        return "timeout 0: all expire"
    if not ns or max(ns) == 0:
        return "nobody on shift"
    kind = None if patience is None else patience.kind
    suffix = {None: "+D", "exponential": "+(D,exp)"}.get(kind, f"+(D,G({kind}))")
    return f"M/M/{_n_spec(ns)}{suffix}"


def _n_spec(ns: Sequence[int]) -> str:
    lo, hi = min(ns), max(ns)
    return str(lo) if lo == hi else f"{lo}..{hi}"
