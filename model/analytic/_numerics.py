"""Argument checks and log-space helpers shared by the Erlang and M/M/n+G formulas.

Why log space: ``a^n / n!`` overflows a float from n ~ 170; sums of such terms go through
``logsumexp`` and ``gammaln`` so every formula stays finite for 1000+ agents and loads above ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

__all__ = ["check_n", "check_pos", "log_inv_erlang_b", "log_r", "log_kummer", "expit_log"]


def check_n(n: int) -> int:
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def check_pos(name: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, got {value!r}")
    return v


def log_inv_erlang_b(k: int, a: float) -> float:
    """log(1 / B(k, a)) = log(sum_{j<=k} a^j/j!) - log(a^k/k!), for a > 0."""
    j = np.arange(k + 1, dtype=float)
    terms = j * math.log(a) - special.gammaln(j + 1.0)
    return float(special.logsumexp(terms) - terms[-1])


def log_r(n: int, a: float) -> float:
    """log(1/B(n, a) - 1) = log(sum_{j<n} a^j/j! / (a^n/n!)), for a > 0."""
    return log_inv_erlang_b(n - 1, a) + math.log(n) - math.log(a)


def log_kummer(x: float, z: float) -> float:
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


def expit_log(log_num: float, log_den: float) -> float:
    """num / (num + den) from logs, without overflow."""
    return float(special.expit(log_num - log_den))


def smallest_meeting(ok: Callable[[int], bool], *, start: int = 0, cap: int | None = None) -> int | None:
    """The smallest ``n >= start`` with ``ok(n)``, for ``ok`` false then true as ``n`` grows (a
    staffing level meeting a target): doubling, then bisection. ``None`` if no ``n`` up to ``cap`` does."""
    if ok(start):
        return start
    lo, hi = start, max(2 * start, start + 1)
    if cap is not None:
        hi = min(hi, cap)
    while not ok(hi):
        if cap is not None and hi >= cap:
            return None
        lo, hi = hi, 2 * hi if cap is None else min(2 * hi, cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
