"""Service-time, patience and accept-delay distributions, parametrised the way supervisors think.

Every distribution has ``.mean`` (seconds), vectorised ``.sample(rng, size)`` and a fast
``.sampler(rng)`` for the simulation's hot path. Lognormal and gamma take a mean and a
coefficient of variation (``cv`` = standard deviation / mean) rather than their native parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, TypeAdapter, ValidationInfo, field_validator, model_validator

from ._base import Int, Real, StrictModel
from .durations import Duration, NonNegativeDuration
from .errors import refuse

__all__ = [
    "Distribution",
    "AnyDistribution",
    "Exponential",
    "Constant",
    "Lognormal",
    "Gamma",
    "Uniform",
    "Erlang",
    "DISTRIBUTION_KINDS",
]

#: draws per block handed out by :meth:`Distribution.sampler`
BLOCK = 4096
#: draws taken (fixed seed) when a distribution is validated, to refuse parameters that overflow
CHECK_DRAWS = 256
#: the cv range within which cv^2 and 1/cv^2 are finite, non-zero floats (as the message says it)
CV_RANGE = "a finite cv with cv^2 and 1/cv^2 finite and > 0 (about 1e-154 < cv < 1e154)"


def _derived(what: str, compute: Callable[[], float], allowed: str) -> float:
    """The value of a derived parameter; refused if it overflows, underflows to 0 or is not finite.

    Why: a finite cv or mean can still give a shape, scale or sigma that is 0, inf or raises
    (``1 / cv**2`` for cv = 1e-300); the simulation would draw nan or crash mid-run.
    """
    try:
        value = compute()
    except (OverflowError, ZeroDivisionError, ValueError):
        raise refuse(f"out of range: {what} overflows", allowed) from None
    if not (math.isfinite(value) and value > 0):
        raise refuse(f"out of range: {what} would be {value:g}, not a finite number > 0", allowed)
    return value


class Distribution(StrictModel):
    """Base of all distributions (use for ``isinstance`` and typing); concrete ones are picked by ``kind``."""

    if TYPE_CHECKING:
        kind: str
        mean: float  # seconds; a field or a property in each subclass

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws in seconds, as a float array."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _finite_draws(self) -> "Distribution":
        """Refuse parameters whose mean or draws are not finite (checked on a few seeded draws)."""
        if not math.isfinite(self.mean):
            raise refuse(f"out of range: the mean would be {self.mean:g} (the parameters overflow)",
                         "parameters with a finite mean")
        try:
            draws = self.sample(np.random.default_rng(0), CHECK_DRAWS)
            finite = bool(np.isfinite(draws).all() and (draws >= 0).all())
        except (ArithmeticError, ValueError):
            finite = False
        if not finite:
            raise refuse("out of range: the parameters give draws that are not finite numbers >= 0 "
                         "(they overflow)", "smaller values, whose draws stay finite")
        return self

    def sampler(self, rng: np.random.Generator, block: int = BLOCK) -> Callable[[], float]:
        """A zero-argument function returning one draw (float seconds) per call.

        Why: the simulation draws one value at a time; this draws ``block`` values with numpy and
        hands them out through a C-level iterator, so a call costs about as much as ``next()``.
        """
        blocks = iter(lambda: self.sample(rng, block).tolist(), None)  # never ends
        return partial(next, chain.from_iterable(blocks))

    @classmethod
    def from_data(cls, data: Any) -> "Distribution":
        """Validate a dict such as ``{"kind": "exponential", "mean": "4m"}`` into a distribution."""
        return _ADAPTER.validate_python(data)


class Exponential(Distribution):
    """Exponential with the given mean (cv = 1)."""

    kind: Literal["exponential"]
    mean: Duration

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)


class Constant(Distribution):
    """Always ``value`` (kind ``constant`` or its alias ``deterministic``)."""

    kind: Literal["constant", "deterministic"]
    value: Duration

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value, dtype=float)

    def sampler(self, rng: np.random.Generator, block: int = BLOCK) -> Callable[[], float]:
        value = self.value
        return lambda: value


class Lognormal(Distribution):
    """Lognormal with the given mean and cv: sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2."""

    kind: Literal["lognormal"]
    mean: Duration
    cv: Real = Field(gt=0)

    @field_validator("cv")
    @classmethod
    def _cv_in_range(cls, cv: float, info: ValidationInfo) -> float:
        sigma2 = _derived("sigma^2 = ln(1 + cv^2)", lambda: math.log1p(cv**2), CV_RANGE)
        mean = info.data.get("mean")
        if mean is not None:
            _derived("exp(mu) = mean / exp(sigma^2 / 2)", lambda: mean / math.exp(sigma2 / 2),
                     "a smaller cv for this mean")
        return cv

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), size)


class Gamma(Distribution):
    """Gamma with the given mean and cv: shape = 1 / cv^2, scale = mean * cv^2."""

    kind: Literal["gamma"]
    mean: Duration
    cv: Real = Field(gt=0)

    @field_validator("cv")
    @classmethod
    def _cv_in_range(cls, cv: float, info: ValidationInfo) -> float:
        _derived("the shape 1/cv^2", lambda: 1.0 / cv**2, CV_RANGE)
        mean = info.data.get("mean")
        if mean is not None:
            _derived("the scale mean * cv^2", lambda: mean * cv**2, "a cv with mean * cv^2 finite and > 0")
        return cv

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.gamma(1.0 / self.cv**2, self.mean * self.cv**2, size)


class Uniform(Distribution):
    """Uniform on [low, high); ``low`` may be 0, ``high`` must exceed ``low``."""

    kind: Literal["uniform"]
    low: NonNegativeDuration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high <= self.low:
            raise ValueError(f"high ({self.high:g} s) must be greater than low ({self.low:g} s)")
        return self

    @property
    def mean(self) -> float:
        return self.low / 2 + self.high / 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


class Erlang(Distribution):
    """Erlang-k with the given mean: the sum of ``k`` exponentials of mean ``mean / k`` (cv = 1/sqrt(k))."""

    kind: Literal["erlang"]
    mean: Duration
    k: Int = Field(ge=1)

    @field_validator("k")
    @classmethod
    def _scale_in_range(cls, k: int, info: ValidationInfo) -> int:
        mean = info.data.get("mean")
        if mean is not None:
            _derived("the phase mean mean / k", lambda: mean / k, "a k with mean / k > 0 (no underflow)")
        return k

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.gamma(float(self.k), self.mean / self.k, size)


#: the field type: a distribution chosen by its ``kind``
AnyDistribution = Annotated[
    Union[Exponential, Constant, Lognormal, Gamma, Uniform, Erlang], Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[Distribution] = TypeAdapter(AnyDistribution)
DISTRIBUTION_KINDS = ("exponential", "constant", "deterministic", "lognormal", "gamma", "uniform", "erlang")
