"""Closed-form and numerical queueing formulas used to validate the simulator.

Models: Erlang B (M/M/n/n), Erlang C (M/M/n), Erlang A (M/M/n+M, exponential
patience), the general M/M/n+G queue (Baccelli & Hebuterne 1981; Zeltyn &
Mandelbaum 2005), and its specialisations for a transfer timeout: M/M/n+D
(deterministic patience) and M/M/n+min(D, Exp); non-preemptive priority M/M/n with equal service
rates (Cobham's mean waits per class, Davis's wait distribution).

One module per family: :mod:`.erlang` (Erlang B, C, A, the birth-death oracle, staffing) and
:mod:`.general_patience` (M/M/n+G and its timeout cases), :mod:`.priority` (classes served by priority);
every name is imported from here.

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

from .erlang import (
    ErlangAResult,
    erlang_a,
    erlang_b,
    erlang_c,
    erlang_c_service_level,
    erlang_c_wait,
    mmn_birth_death,
    staffing_erlang_a,
)
from .general_patience import MMNGResult, mmn_d, mmn_d_exp, mmng
from .priority import PriorityWaits, cobham_waits, priority_waits

__all__ = [
    "ErlangAResult",
    "MMNGResult",
    "PriorityWaits",
    "cobham_waits",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_service_level",
    "erlang_c_wait",
    "mmn_birth_death",
    "mmn_d",
    "mmn_d_exp",
    "mmng",
    "priority_waits",
    "staffing_erlang_a",
]
