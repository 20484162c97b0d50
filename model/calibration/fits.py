"""Duration distributions fitted by maximum likelihood, right-censored or not, chosen by AIC.

Why: a calibrated scenario needs a handle time per group and a patience per service. The
candidates are exponential, lognormal, gamma and Weibull; each is fitted by maximising its
likelihood (censored observations count through the survival function, P(X > x)), and the one
with the smallest AIC = 2 k - 2 log L wins. The scenario format has no Weibull kind: a Weibull
winner is written as ``empirical`` from its quantiles (:func:`scenario_distribution` says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = ["KINDS", "Candidate", "Fit", "fit_durations", "scenario_distribution", "SUBSTITUTE_QUANTILES"]

KINDS: tuple[str, ...] = ("exponential", "lognormal", "gamma", "weibull")
#: how many quantiles of a fitted Weibull (or of the data) an ``empirical`` substitute holds
SUBSTITUTE_QUANTILES = 200
#: a best parametric fit further than this (Kolmogorov distance) from complete data of at least
#: :data:`EMPIRICAL_MIN_N` values is replaced by the data's own quantiles (``empirical``)
EMPIRICAL_DISTANCE = 0.05
EMPIRICAL_MIN_N = 500


@dataclass(frozen=True)
class Candidate:
    """One fitted family: its parameters (scipy's, ``scale`` in seconds), log-likelihood and AIC."""

    kind: str
    params: dict[str, float]
    loglik: float
    aic: float
    mean: float
    median: float

    def survival(self, x: Any) -> np.ndarray:
        """P(X > x) under this fit (vectorised)."""
        return _frozen(self.kind, self.params).sf(np.asarray(x, dtype=float))

    def pdf(self, x: Any) -> np.ndarray:
        """The fitted density at ``x`` (vectorised)."""
        return _frozen(self.kind, self.params).pdf(np.asarray(x, dtype=float))


@dataclass
class Fit:
    """The fits of one quantity (``"handle_time front"``, ``"patience support"``) and the choice.

    ``n`` observations, ``events`` of them complete (the rest right-censored); ``chosen`` is the
    kind written to the scenario (``"empirical"`` for the data's quantiles) or None when nothing
    could be fitted (``note`` says why); ``written`` the scenario's distribution table.
    """

    quantity: str
    n: int
    events: int
    candidates: list[Candidate] = field(default_factory=list)
    best: str | None = None
    chosen: str | None = None
    written: dict[str, Any] | None = None
    note: str = ""
    dropped: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    values: np.ndarray | None = None   # the observations (for the report's histogram)
    observed: np.ndarray | None = None  # which of them are complete

    def candidate(self, kind: str) -> Candidate:
        """The fitted candidate of ``kind`` (KeyError naming the fitted ones otherwise)."""
        for c in self.candidates:
            if c.kind == kind:
                return c
        raise KeyError(f"{kind!r} was not fitted; fitted: {', '.join(c.kind for c in self.candidates) or 'none'}")

    def aic_text(self) -> str:
        """``lognormal 1234.5 (best), gamma 1240.1, ...``: the candidates by AIC, for comments."""
        ranked = sorted(self.candidates, key=lambda c: c.aic)
        return ", ".join(f"{c.kind} {c.aic:.1f}" + (" (best)" if c.kind == self.best else "") for c in ranked)


def _frozen(kind: str, p: dict[str, float]) -> Any:
    if kind == "exponential":
        return stats.expon(scale=p["scale"])
    if kind == "lognormal":
        return stats.lognorm(p["sigma"], scale=math.exp(p["mu"]))
    if kind == "gamma":
        return stats.gamma(p["shape"], scale=p["scale"])
    if kind == "weibull":
        return stats.weibull_min(p["shape"], scale=p["scale"])
    raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")


def _params(kind: str, theta: np.ndarray) -> dict[str, float]:
    if kind == "exponential":
        return {"scale": float(math.exp(theta[0]))}
    if kind == "lognormal":
        return {"mu": float(theta[0]), "sigma": float(math.exp(theta[1]))}
    return {"shape": float(math.exp(theta[0])), "scale": float(math.exp(theta[1]))}


def _start(kind: str, x: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Starting values from the data (moments of all of it, censored or not)."""
    mean = float(x.sum() / max(1, int(observed.sum())))  # the censored exponential MLE
    logs = np.log(x)
    if kind == "exponential":
        return np.array([math.log(mean)])
    if kind == "lognormal":
        return np.array([float(logs.mean()), math.log(max(float(logs.std()), 0.05))])
    cv2 = max(float(x.var()) / max(float(x.mean()) ** 2, 1e-12), 0.01)
    if kind == "gamma":
        return np.array([math.log(1.0 / cv2), math.log(mean * cv2)])
    return np.array([math.log(max(1.0 / math.sqrt(cv2), 0.1)), math.log(mean)])


def _negloglik(kind: str, theta: np.ndarray, x: np.ndarray, observed: np.ndarray) -> float:
    if not np.all(np.isfinite(theta)) or np.any(np.abs(theta) > 700):
        return math.inf
    dist = _frozen(kind, _params(kind, theta))
    ll = float(dist.logpdf(x[observed]).sum())
    if (~observed).any():
        ll += float(dist.logsf(x[~observed]).sum())
    return -ll if math.isfinite(ll) else math.inf


def _fit_one(kind: str, x: np.ndarray, observed: np.ndarray) -> Candidate | None:
    k = 1 if kind == "exponential" else 2
    if kind == "exponential":
        theta = _start(kind, x, observed)  # closed form, censored or not
        nll = _negloglik(kind, theta, x, observed)
    elif kind == "lognormal" and observed.all():
        logs = np.log(x)
        theta = np.array([float(logs.mean()), math.log(float(logs.std()))])
        nll = _negloglik(kind, theta, x, observed)
    else:
        res = optimize.minimize(lambda t: _negloglik(kind, t, x, observed), _start(kind, x, observed),
                                method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
        theta, nll = res.x, float(res.fun)
    if not math.isfinite(nll):
        return None
    p = _params(kind, theta)
    dist = _frozen(kind, p)
    return Candidate(kind, p, -nll, 2 * k + 2 * nll, float(dist.mean()), float(dist.median()))


def fit_durations(quantity: str, values: Any, observed: Any = None, *, allow_empirical: bool = False) -> Fit:
    """Fit the candidate families to ``values`` (seconds); ``observed[i]`` False marks a right-censored value.

    Values <= 0 carry no information for these families and are dropped (counted in ``dropped``).
    Two-parameter families need at least 3 complete values, two of them distinct; with fewer only
    the exponential is fitted; with no complete value nothing is (``chosen`` None). With
    ``allow_empirical`` (complete data only) a best fit further than :data:`EMPIRICAL_DISTANCE` from
    at least :data:`EMPIRICAL_MIN_N` values gives way to the data's quantiles.
    """
    x = np.asarray(values, dtype=float)
    obs = np.ones(len(x), dtype=bool) if observed is None else np.asarray(observed, dtype=bool)
    keep = np.isfinite(x) & (x > 0)
    fit = Fit(quantity, int(keep.sum()), int((obs & keep).sum()), dropped=int((~keep).sum()),
              values=x[keep], observed=obs[keep])
    x, obs = x[keep], obs[keep]
    if fit.events == 0:
        fit.note = (f"{quantity}: no complete observation among {fit.n} (all censored)" if fit.n
                    else f"{quantity}: no observation")
        return fit
    two = fit.events >= 3 and len(np.unique(x[obs])) >= 2
    for kind in KINDS if two else ("exponential",):
        cand = _fit_one(kind, x, obs)
        if cand is not None:
            fit.candidates.append(cand)
    best = min(fit.candidates, key=lambda c: c.aic)
    fit.best = fit.chosen = best.kind
    if allow_empirical and observed is None and fit.n >= EMPIRICAL_MIN_N:
        distance = float(stats.kstest(x, _frozen(best.kind, best.params).cdf).statistic)
        fit.extra["ks_distance"] = distance
        if distance > EMPIRICAL_DISTANCE:
            fit.chosen = "empirical"
    fit.written, fit.note = scenario_distribution(fit)
    return fit


def _quantiles(ppf: Any) -> list[float]:
    p = (np.arange(SUBSTITUTE_QUANTILES) + 0.5) / SUBSTITUTE_QUANTILES
    return [0.0] + [float(f"{q:.6g}") for q in ppf(p)]


def _g(v: float) -> float:
    return float(f"{v:.6g}")


def scenario_distribution(fit: Fit) -> tuple[dict[str, Any] | None, str]:
    """The scenario's distribution table for ``fit.chosen`` and a one-line account of it."""
    if fit.chosen is None:
        return None, fit.note
    censored = fit.n - fit.events
    sample = f"n = {fit.n}" + (f" ({fit.events} complete, {censored} censored)" if censored else "")
    if fit.dropped:
        sample += f"; {fit.dropped} values <= 0 left out (no information)"
    aics = f"AIC: {fit.aic_text()}"
    if fit.chosen == "empirical":
        best = fit.candidate(fit.best or "exponential")
        table = {"kind": "empirical", "values": _quantiles(lambda p: np.quantile(fit.values, p))}
        return table, (f"empirical, {SUBSTITUTE_QUANTILES} quantiles of the data: the best fit ({best.kind}) is "
                       f"{fit.extra['ks_distance']:.3f} from the data (Kolmogorov distance > {EMPIRICAL_DISTANCE}); "
                       f"{sample}; {aics}")
    c = fit.candidate(fit.chosen)
    p = c.params
    if c.kind == "exponential":
        table = {"kind": "exponential", "mean": _g(p["scale"])}
        what = f"exponential, mean {p['scale']:.1f} s"
    elif c.kind == "lognormal":
        table = {"kind": "lognormal", "mu": _g(p["mu"]), "sigma": _g(p["sigma"])}
        what = f"lognormal, mu {p['mu']:.4g}, sigma {p['sigma']:.4g} (mean {c.mean:.1f} s)"
    elif c.kind == "gamma":
        table = {"kind": "gamma", "mean": _g(c.mean), "cv": _g(1 / math.sqrt(p["shape"]))}
        what = f"gamma, shape {p['shape']:.4g}, scale {p['scale']:.4g} (mean {c.mean:.1f} s)"
    else:
        table = {"kind": "empirical", "values": _quantiles(_frozen("weibull", p).ppf)}
        what = (f"Weibull, shape {p['shape']:.4g}, scale {p['scale']:.4g} (mean {c.mean:.1f} s), written as "
                f"empirical from its {SUBSTITUTE_QUANTILES} mid-quantiles and 0 (the scenario format has no "
                "weibull kind)")
    return table, f"{what}; maximum likelihood, {sample}; {aics}"
