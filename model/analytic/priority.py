"""Non-preemptive priority M/M/n with equal service rates: exact mean waits per class (Cobham's
formula) and their distributions (Davis 1966).

Model: Poisson arrivals of several classes at rates ``lambdas`` (highest priority first), ``n``
servers, exponential service at rate ``mu`` whatever the class, no abandonment. A freed server takes
the waiting contact of the highest class, first come first served within a class, and never
interrupts a conversation in progress (non-preemptive).

With a = sum(lambdas) / mu, C = erlang_c(n, a) and sigma_k = sum_{i<=k} lambdas_i / (n mu)
(sigma_0 = 0), class k waits on average

    W_k = C / (n mu (1 - sigma_{k-1}) (1 - sigma_k))

(Cobham 1954, "Priority assignment in waiting line problems", J. Oper. Res. Soc. America 2(1):70-76;
Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*, 4th ed., sec. 3.4, nonpreemptive
priorities, multiple servers). Why it holds: an arrival waits iff all n servers are busy (PASTA,
probability C whatever its class); while all are busy the contacts of classes <= k waiting evolve
as an M/M/1 queue with arrival rate sigma_k n mu and service rate n mu, so the arrival finds a
geometric number of them ahead (ratio sigma_k), and each of those, and itself, is cleared by an
M/M/1 busy period of the higher classes (arrival rate sigma_{k-1} n mu) arriving meanwhile. The
same argument gives the whole distribution (Davis 1966, "Waiting-time distribution of a multi-server,
priority queuing system", Operations Research 14(1):133-136): see :meth:`PriorityWaits.p_wait_gt`.

Checks in ``tests/test_priority_theory.py``: one class is Erlang C; the lambda-weighted mean of the
W_k is the first-come-first-served M/M/n wait (the conservation law: the number waiting does not
depend on the order of service when service rates are equal); two classes with one server are
M/M/1's closed forms; a numerically solved Markov chain of the whole queue agrees.

Units: see :mod:`model.analytic` (rates per one unit of time, waits in that unit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .erlang import erlang_c

__all__ = ["PriorityWaits", "cobham_waits", "priority_waits"]

#: mass of the tail left out when a geometric or Poisson sum is truncated (see :func:`_busy_tail`)
_TAIL = 1e-16


def _checked(n: int, lambdas: Sequence[float], mu: float) -> tuple[int, tuple[float, ...], float]:
    """The arguments as (int, tuple of floats, float), or a ValueError naming the argument and what it allows."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float)) or int(n) != n or n < 1:
        raise ValueError(f"n (the number of servers) must be an integer >= 1, got {n!r}")
    if isinstance(lambdas, (str, bytes)) or not isinstance(lambdas, Sequence) or len(lambdas) == 0:
        raise ValueError(f"lambdas must be a non-empty sequence of arrival rates, highest priority first, "
                         f"got {lambdas!r}")
    rates = []
    for k, lam in enumerate(lambdas):
        v = float(lam)
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"lambdas[{k}] must be a finite rate >= 0 (0: a class without arrivals), got {lam!r}")
        rates.append(v)
    m = float(mu)
    if not math.isfinite(m) or m <= 0:
        raise ValueError(f"mu (the service rate per server) must be a finite number > 0, got {mu!r}")
    return int(n), tuple(rates), m


def cobham_waits(n: int, lambdas: Sequence[float], mu: float) -> tuple[float, ...]:
    """Mean wait in queue of each class (highest priority first), at any load.

    Below saturation (sum(lambdas) < n mu) Cobham's W_k (:mod:`module docs <model.analytic.priority>`).
    At or above it every server is busy in the long run (C = 1): a class with sigma_k < 1 still
    waits 1 / (n mu (1 - sigma_{k-1}) (1 - sigma_k)), the classes from the first with
    sigma_k >= 1 on wait without bound (``inf``). Why: a planner asks what the top classes wait
    when the lowest ones are starved, which :func:`priority_waits` (stable loads only) refuses.
    """
    n, rates, mu = _checked(n, lambdas, mu)
    total = sum(rates)
    capacity = n * mu
    c = 1.0 if total >= capacity else erlang_c(n, total / mu)
    waits = []
    below = 0.0  # sigma_{k-1}
    for lam in rates:
        upto = below + lam / capacity  # sigma_k
        waits.append(c / (capacity * (1.0 - below) * (1.0 - upto)) if upto < 1.0 else math.inf)
        below = upto
    return tuple(waits)


@dataclass(frozen=True)
class PriorityWaits:
    """Stationary waits of non-preemptive priority M/M/n, one entry per class (highest priority first).

    ``p_wait`` = P(W > 0), the Erlang C probability, the same for every class; ``mean_wait[k]`` =
    E[W_k] over all arrivals of class k (Cobham); ``mean_queue[k]`` = lambdas[k] mean_wait[k], the
    mean number of class k waiting (Little). No one abandons, so every arrival is served.
    """

    n: int
    lambdas: tuple[float, ...]
    mu: float
    p_wait: float
    mean_wait: tuple[float, ...]
    mean_queue: tuple[float, ...]

    @property
    def rho(self) -> float:
        """Total load per server, sum(lambdas) / (n mu), below 1."""
        return sum(self.lambdas) / (self.n * self.mu)

    def _sigma(self, k: int) -> tuple[float, float]:
        if not 0 <= k < len(self.lambdas):
            raise IndexError(f"class {k!r} out of range: 0 (highest priority) to {len(self.lambdas) - 1}")
        capacity = self.n * self.mu
        return sum(self.lambdas[:k]) / capacity, sum(self.lambdas[: k + 1]) / capacity

    def p_wait_gt(self, k: int, t: float) -> float:
        """P(W_k > t) for class ``k`` (0 = highest priority), exact (Davis 1966).

        Given all servers busy, the arrival finds N ~ geometric(sigma_k) contacts of classes <= k
        ahead (P(N = j) = (1 - sigma_k) sigma_k^j) and waits for N + 1 busy periods of an M/M/1
        queue with arrival rate sigma_{k-1} n mu and service rate n mu: the first passage from
        N + 1 to 0 of that birth-death walk (computed by uniformisation). The highest class waits
        an exponential time of rate n mu - lambdas[0] when it waits at all.
        """
        below, upto = self._sigma(k)
        if t < 0:
            return 1.0
        if self.p_wait == 0.0:
            return 0.0
        capacity = self.n * self.mu
        return self.p_wait * _busy_tail(below * capacity, capacity, upto, float(t))

    def service_level(self, k: int, t: float) -> float:
        """P(W_k <= t): class ``k`` answered within ``t`` (everyone is answered: no abandonment)."""
        return 1.0 - self.p_wait_gt(k, t)


def _busy_tail(up: float, down: float, ratio: float, t: float) -> float:
    """P(T > t) for T the first passage to 0 of a birth-death walk (rate ``up`` up, ``down`` down)
    started at N + 1, N ~ geometric with P(N = j) = (1 - ratio) ratio^j (requires up < down).

    Uniformisation: with L = up + down, P(T > t) = sum_j Poisson(L t; j) S_j, S_j the probability
    that the jump chain has not reached 0 after j jumps; both sums are cut where the mass left
    out is below :data:`_TAIL` (S_j falls as j grows, so the terms after S_j < _TAIL add less).
    """
    if up == 0.0:
        return math.exp(-down * (1.0 - ratio) * t)
    if t == 0.0:
        return 1.0
    from scipy import stats

    rate = up + down
    lt = rate * t
    jumps = int(stats.poisson.isf(_TAIL, lt)) + 1
    start = 1 if ratio == 0.0 else max(1, math.ceil(math.log(_TAIL) / math.log(ratio)))
    v = (1.0 - ratio) * ratio ** np.arange(start)  # v[i] = P(walk at i + 1)
    p, q = up / rate, down / rate
    total = math.exp(-lt) * v.sum()
    for j in range(1, jumps + 1):
        nxt = np.zeros(len(v) + 1)
        nxt[1:] += p * v
        nxt[:-2] += q * v[1:]  # from i + 2 down to i + 1; from 1 down to 0 is absorbed
        v = nxt
        alive = v.sum()
        total += math.exp(j * math.log(lt) - lt - math.lgamma(j + 1.0)) * alive  # Poisson(lt; j) weight
        if alive < _TAIL:
            break
    return float(min(1.0, total))


def priority_waits(n: int, lambdas: Sequence[float], mu: float) -> PriorityWaits:
    """Non-preemptive priority M/M/n with one service rate: the mean wait of each class (Cobham).

    ``lambdas``: arrival rate per class, highest priority first (a class may have rate 0: its
    mean wait is what an arrival of it would wait). ``ValueError`` for n < 1, a negative or
    infinite rate, mu <= 0, or a total load sum(lambdas) / (n mu) >= 1 (the lowest class would
    wait without bound; :func:`cobham_waits` gives the stable classes' waits then).
    """
    n, rates, mu = _checked(n, lambdas, mu)
    rho = sum(rates) / (n * mu)
    if rho >= 1.0:
        raise ValueError(f"total load sum(lambdas) / (n * mu) = {rho:.6g} must be < 1 (stable queue); "
                         f"cobham_waits gives the waits of the classes that stay stable")
    waits = cobham_waits(n, rates, mu)
    return PriorityWaits(n, rates, mu, erlang_c(n, sum(rates) / mu), waits,
                         tuple(lam * w for lam, w in zip(rates, waits)))
