"""Service-time, patience and accept-delay distributions, parametrised the way supervisors think.

Every distribution has ``.mean`` (seconds), vectorised ``.sample(rng, size)``, a fast
``.sampler(rng)`` for the simulation's hot path and ``.survival(x)`` = P(X > x) (for analytic
estimates with a general patience, M/M/n+G). Lognormal and gamma take a mean and a coefficient of
variation (``cv`` = standard deviation / mean); lognormal also takes its native ``mu`` and ``sigma``
(what a fit such as ``scipy.stats.lognorm`` gives). ``empirical`` is built from data: a list of
values or a column of a CSV or Parquet file.

Why one module: the kinds form one discriminated union (:data:`AnyDistribution`) whose validation
rules (derived parameters, the seeded draw check, the parameter forms) are shared and read side by
side; reading an empirical distribution's data file is part of its validation, kept next to it.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import numpy as np
from pydantic import (
    Field,
    PrivateAttr,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails
from scipy import special

from ._base import Int, Real, StrictModel
from .durations import Duration, NonNegativeDuration
from .errors import allowed_list, refuse

__all__ = [
    "Distribution",
    "AnyDistribution",
    "Exponential",
    "Constant",
    "Lognormal",
    "Gamma",
    "Uniform",
    "Erlang",
    "Empirical",
    "DISTRIBUTION_KINDS",
    "data_directory",
]

#: draws per block handed out by :meth:`Distribution.sampler`
BLOCK = 4096
#: draws taken (fixed seed) when a distribution is validated, to refuse parameters that overflow
CHECK_DRAWS = 256
#: the cv range within which cv^2 and 1/cv^2 are finite, non-zero floats (as the message says it)
CV_RANGE = "a finite cv with cv^2 and 1/cv^2 finite and > 0 (about 1e-154 < cv < 1e154)"
#: a lognormal's two parameter forms, for its messages
LOGNORMAL_FORMS = ("either mean (a duration) and cv (> 0), or mu and sigma (> 0), the mean and standard "
                   "deviation of ln(seconds)")
#: the range of mu + sigma^2/2 within which a lognormal's mean is a finite number > 0
MU_SIGMA_RANGE = "mu and sigma with mean = exp(mu + sigma^2/2) finite and > 0 (-745 < mu + sigma^2/2 < 709.7)"
#: an empirical distribution holds at least 2 and at most this many values (a scenario embeds them)
MIN_VALUES = 2
MAX_VALUES = 100_000
#: the largest data file read for an empirical distribution
MAX_DATA_FILE_BYTES = 64 * 2**20
#: data file types an empirical distribution reads, by suffix (case-insensitive)
DATA_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
EMPIRICAL_FORMS = ("either values = [seconds, ...] (at least 2 numbers >= 0, not all 0), or file = "
                   '"data.csv" (or .parquet) and column = "name"')


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


def _refuse_at(loc: tuple[str | int, ...], message: str, allowed: str, value: Any) -> ValidationError:
    """Like :func:`refuse`, but reported at ``loc`` below the model being validated (e.g. ``("file",)``).

    Why: a model validator's own errors sit at the model's path; a problem of one field (a missing
    data file, a column not in it, the 3rd value) reads better at that field's path. pydantic merges
    a ``ValidationError`` raised inside a validator, prefixing its locations with the current path.
    """
    details = InitErrorDetails(type=refuse(message, allowed), loc=loc, input=value)
    return ValidationError.from_exception_data("Distribution", [details])


#: the folder relative data file paths are resolved against (None: the current directory)
_DATA_DIRECTORY: ContextVar[Path | None] = ContextVar("data_directory", default=None)


@contextmanager
def data_directory(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Within the block, resolve an empirical distribution's relative ``file`` against ``folder``.

    Why: a scenario file names its data files relative to itself; :func:`~.loading.load_scenario`
    validates inside ``data_directory(<the scenario file's folder>)``. Outside any such block (dicts
    given to :func:`scenario_from_dict`, ``with_changes``, :meth:`Distribution.from_data`) a
    relative path is relative to the current directory.
    """
    token = _DATA_DIRECTORY.set(None if folder is None else Path(folder))
    try:
        yield
    finally:
        _DATA_DIRECTORY.reset(token)


class Distribution(StrictModel):
    """Base of all distributions (use for ``isinstance`` and typing); concrete ones are picked by ``kind``."""

    if TYPE_CHECKING:
        kind: str
        mean: float  # seconds; a field or a property in each subclass

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws in seconds, as a float array."""
        raise NotImplementedError

    def survival(self, x: float) -> float:
        """P(X > x) for ``x`` in seconds: right-continuous, non-increasing, 1 for x < 0.

        Why: an analytic estimate with the scenario's real patience (M/M/n+G) needs G(x) = P(X > x).
        """
        raise NotImplementedError

    def _complete(self) -> None:
        """Check what needs several fields together and derive what :attr:`mean` and sampling need.

        Called first by the model validator (before the draws are checked); a no-op by default.
        """

    @model_validator(mode="after")
    def _finite_draws(self) -> "Distribution":
        """Refuse parameters whose mean or draws are not finite (checked on a few seeded draws)."""
        self._complete()
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

    def survival(self, x: float) -> float:
        return math.exp(-x / self.mean) if x > 0 else 1.0


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

    def survival(self, x: float) -> float:
        return 1.0 if x < self.value else 0.0


class Lognormal(Distribution):
    """Lognormal, given by ``mean`` and ``cv`` or by ``mu`` and ``sigma`` (exactly one of the two pairs).

    ``mu``, ``sigma``: mean and standard deviation of ln(X) with X in seconds (``scipy.stats.lognorm``
    has ``s = sigma``, ``scale = exp(mu)``); then ``mean`` = exp(mu + sigma^2 / 2) is derived and
    ``cv`` stays None. From ``mean`` and ``cv``: sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2.
    A dump keeps the pair that was given (so a scenario round-trips to an equal one).
    """

    kind: Literal["lognormal"]
    mean: Duration | None = None
    cv: Real | None = Field(default=None, gt=0)
    mu: Real | None = None
    sigma: Real | None = Field(default=None, gt=0)

    @field_validator("cv")
    @classmethod
    def _cv_in_range(cls, cv: float | None, info: ValidationInfo) -> float | None:
        if cv is None:
            return cv
        sigma2 = _derived("sigma^2 = ln(1 + cv^2)", lambda: math.log1p(cv**2), CV_RANGE)
        mean = info.data.get("mean")
        if mean is not None:
            _derived("exp(mu) = mean / exp(sigma^2 / 2)", lambda: mean / math.exp(sigma2 / 2),
                     "a smaller cv for this mean")
        return cv

    @field_validator("sigma")
    @classmethod
    def _mean_in_range(cls, sigma: float | None, info: ValidationInfo) -> float | None:
        mu = info.data.get("mu")
        if sigma is not None and mu is not None:
            _derived(f"the mean exp(mu + sigma^2 / 2) with mu = {mu:g}", lambda: math.exp(mu + sigma**2 / 2),
                     MU_SIGMA_RANGE)
        return sigma

    def _complete(self) -> None:
        given = [f for f in ("mean", "cv", "mu", "sigma") if getattr(self, f) is not None]
        moments = [f for f in given if f in ("mean", "cv")]
        native = [f for f in given if f in ("mu", "sigma")]
        if moments and native:
            message = (f"{' and '.join(moments)} (the mean/cv form) and {' and '.join(native)} "
                       "(the mu/sigma form) are both given; use one form")
        elif not given:
            message = "no parameters given"
        elif len(given) == 1:
            other = {"mean": "cv", "cv": "mean", "mu": "sigma", "sigma": "mu"}[given[0]]
            message = f"{other} is missing ({given[0]} and {other} go together)"
        else:
            if native:
                object.__setattr__(self, "mean", math.exp(self.mu + self.sigma**2 / 2))
            return
        raise refuse(f"lognormal: {message}", LOGNORMAL_FORMS)

    @model_serializer(mode="wrap")
    def _dump_the_given_form(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """The fields of the form that was given: ``mean``/``cv`` or ``mu``/``sigma`` (never both)."""
        data = handler(self)
        for name in ("mean", "cv") if self.mu is not None else ("mu", "sigma"):
            data.pop(name, None)
        return data

    def _mu_sigma(self) -> tuple[float, float]:
        """(mu, sigma) of ln(X); for mean/cv computed exactly as before the mu/sigma form existed."""
        if self.mu is not None:
            return self.mu, self.sigma  # type: ignore[return-value]
        sigma2 = math.log1p(self.cv**2)  # type: ignore[operator]
        return math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        mu, sigma = self._mu_sigma()
        return rng.lognormal(mu, sigma, size)

    def survival(self, x: float) -> float:
        if x <= 0:
            return 1.0
        mu, sigma = self._mu_sigma()
        return float(special.ndtr((mu - math.log(x)) / sigma))


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

    def survival(self, x: float) -> float:
        if x <= 0:
            return 1.0
        return float(special.gammaincc(1.0 / self.cv**2, x / (self.mean * self.cv**2)))


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

    def survival(self, x: float) -> float:
        if x < self.low:
            return 1.0
        if x >= self.high:
            return 0.0
        return (self.high - x) / (self.high - self.low)


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

    def survival(self, x: float) -> float:
        if x <= 0:
            return 1.0
        return float(special.gammaincc(float(self.k), x / (self.mean / self.k)))


# -- empirical: a distribution from data -------------------------------------------------------------


class _Table:
    """An empirical distribution's sorted values as numpy arrays, with their mean.

    Derived from the ``values`` field, so any two tables compare equal: models compare by their
    fields only (numpy arrays in a model's ``__eq__`` would raise).
    """

    def __init__(self, values: tuple[float, ...]) -> None:
        x = np.asarray(values, dtype=float)
        self.x = x
        self.dx = np.diff(x)
        top = float(x[-1])  # > 0: not all values are 0; scaled so that no sum overflows
        mids = (x[:-1] / top + x[1:] / top) / 2
        self.mean = top * (math.fsum(mids.tolist()) / (len(x) - 1))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Table)

    def __hash__(self) -> int:
        return 0  # all tables are equal


def _values_error(path: Path, column: str, what: str, rows: np.ndarray, shown: list[Any]) -> ValidationError:
    """The error for a column with bad values: the first bad row (1 = the first data row), and how many."""
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    message = f"column {column!r} of {path}: row {int(rows[0]) + 1}{more} {what}"
    return _refuse_at(("column",), message, "numbers of seconds >= 0 in every row (no text, no empty "
                      "cells, no nan or inf)", shown[int(rows[0])])


def _python_float(text: str) -> float:
    """``float(text)`` (inf for a number beyond float's range; pandas may read it as missing), NaN for text."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _csv_column(path: Path, column: str) -> tuple[list[str], np.ndarray | None]:
    """The header of a CSV file and the column's values as float (None when the column is missing)."""
    import pandas as pd

    names = [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    if column not in names:
        return names, None
    text = pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False, na_filter=False,
                       encoding="utf-8-sig")[column]
    if len(text) > MAX_VALUES:
        raise _too_many(path, len(text))
    cells = text.str.strip()
    numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(np.isnan(numbers)):  # "1e400": a number beyond float, not text
        numbers[i] = _python_float(cells.iloc[i])
    empty = np.flatnonzero((cells == "").to_numpy())
    if len(empty):
        raise _values_error(path, column, "is empty", empty, cells.tolist())
    not_numbers = np.flatnonzero(np.isnan(numbers))
    if len(not_numbers):
        raise _values_error(path, column, "is not a number", not_numbers, cells.tolist())
    return names, numbers


def _parquet_column(path: Path, column: str) -> tuple[list[str], np.ndarray | None]:
    """The column names of a Parquet file and the column's values as float (None when it is missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = list(schema.names)
    if column not in names:
        return names, None
    kind = schema.field(column).type
    if pa.types.is_duration(kind):
        raise _refuse_at(("column",), f"column {column!r} of {path} holds durations ({kind}); store plain "
                         "seconds as numbers", "a column of numbers (integers or floats)", column)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise _refuse_at(("column",), f"column {column!r} of {path} holds {kind}, not numbers",
                         "a column of numbers (integers or floats)", column)
    rows = pq.read_metadata(path).num_rows
    if rows > MAX_VALUES:
        raise _too_many(path, rows)
    data = pq.read_table(path, columns=[column]).column(column)
    if data.null_count:
        nulls = np.flatnonzero(pc.is_null(data).to_numpy(zero_copy_only=False))
        raise _values_error(path, column, "is empty (null)", nulls, [None] * len(data))
    return names, np.asarray(data.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _values(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _too_many(path: Path, n: int) -> ValidationError:
    return _refuse_at(("file",), f"{path} has {n} rows; a scenario embeds the values (its dump carries "
                      f"them), so at most {MAX_VALUES} are taken", f"at most {MAX_VALUES} values (a random "
                      "sample of the data)", str(path))


def _read_values(file: str, column: str) -> list[float]:
    """The column ``column`` of the CSV or Parquet ``file`` as seconds, every value checked.

    Raises a ``ValidationError`` located at ``file`` or ``column`` naming the file (as resolved).
    """
    base = _DATA_DIRECTORY.get()
    path = Path(file) if base is None or Path(file).is_absolute() else base / file
    where = "the scenario file's folder" if base is not None else "the current directory"
    allowed = f"an existing {', '.join(DATA_SUFFIXES)} file (a relative path is relative to {where})"
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise _refuse_at(("file",), f"not a CSV or Parquet file name: {path}", allowed, file)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError
    except FileNotFoundError:
        raise _refuse_at(("file",), f"data file not found: {path}", allowed, file) from None
    except IsADirectoryError:
        raise _refuse_at(("file",), f"a directory, not a data file: {path}", allowed, file) from None
    except (OSError, ValueError) as exc:
        raise _refuse_at(("file",), f"cannot read {path}: {exc}", allowed, file) from None
    if size > MAX_DATA_FILE_BYTES:
        raise _refuse_at(("file",), f"{path} is larger than {MAX_DATA_FILE_BYTES // 2**20} MiB",
                         f"a data file of at most {MAX_DATA_FILE_BYTES // 2**20} MiB with at most "
                         f"{MAX_VALUES} values", file)
    reader = _csv_column if DATA_SUFFIXES[path.suffix.lower()] == "csv" else _parquet_column
    try:
        names, numbers = reader(path, column)
    except ValidationError:
        raise
    except Exception as exc:  # broad: pandas' and pyarrow's many errors for a file that is not what it says
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if type(exc).__name__ == "EmptyDataError":
            reason = "the file is empty"
        raise _refuse_at(("file",), f"cannot read {path} as {DATA_SUFFIXES[path.suffix.lower()]}: {reason}",
                         allowed, file) from None
    if numbers is None:
        raise _refuse_at(("column",), f"no column {column!r} in {path}", allowed_list(names), column)
    if len(numbers) < MIN_VALUES:
        raise _refuse_at(("column",), f"column {column!r} of {path} has {_values(len(numbers))}; at least "
                         f"{MIN_VALUES} are needed", f"a column of {MIN_VALUES} to {MAX_VALUES} numbers",
                         column)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        raise _values_error(path, column, "is not a finite number", bad, numbers.tolist())
    bad = np.flatnonzero(numbers < 0)
    if len(bad):
        raise _values_error(path, column, "is negative", bad, numbers.tolist())
    return numbers.tolist()


class Empirical(Distribution):
    """The distribution of observed values (seconds), by inverse-CDF sampling with linear interpolation.

    With the sorted values x_(1) <= ... <= x_(n): draw u ~ U(0, 1) and return the quantile function
    Q(u) at position u (n - 1) between the order statistics, linearly interpolated; so every draw
    lies in [x_(1), x_(n)] and the CDF is piecewise linear. ``mean`` is the mean of that
    distribution, the trapezoid mean (sum of x - (x_(1) + x_(n)) / 2) / (n - 1), not the sample mean.

    Given as ``values`` (plain numbers of seconds, not duration strings) or as ``file`` and
    ``column`` (a CSV or Parquet file). A file is read when the scenario is validated and its values
    are embedded: the model keeps only ``values`` (sorted), ``file`` and ``column`` are None, and a
    dump is self-contained. Between 2 and :data:`MAX_VALUES` values, each finite and >= 0, not all 0.
    """

    kind: Literal["empirical"]
    values: Annotated[tuple[Real, ...], Strict(False)] | None = None
    file: str | None = Field(default=None, exclude=True)
    column: str | None = Field(default=None, exclude=True)
    _table: _Table | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _load_file(cls, data: Any) -> Any:
        """A ``file`` and ``column`` become ``values`` (read here, so that only the values are kept)."""
        if not isinstance(data, dict) or data.get("file") is None:
            if isinstance(data, dict) and data.get("column") is not None:
                raise _refuse_at(("column",), "column without file", EMPIRICAL_FORMS, data["column"])
            return data
        if any(key not in cls.model_fields for key in data):
            return data  # the unknown field is reported (a typo'd "colum" is not a missing column)
        file, column = data["file"], data.get("column")
        if data.get("values") is not None:
            raise _refuse_at(("values",), "values and file are both given; use one", EMPIRICAL_FORMS,
                             data["values"])
        if not isinstance(file, str) or not file.strip():
            return data  # the field says what is wrong: "must be a string", or blank (below)
        if column is None:
            raise _refuse_at(("column",), f"the column to read from {file!r} is missing",
                             'column = "the name of a column of seconds"', file)
        if not isinstance(column, str):
            raise _refuse_at(("column",), "must be a string (the name of a column)",
                             'column = "the name of a column of seconds"', column)
        return {**{k: v for k, v in data.items() if k not in ("file", "column")},
                "values": _read_values(file, column)}

    @field_validator("values")
    @classmethod
    def _sorted_values(cls, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if values is None:
            return values
        allowed = f"{MIN_VALUES} to {MAX_VALUES} numbers of seconds >= 0, not all 0"
        if len(values) < MIN_VALUES:
            raise refuse(f"{_values(len(values))}; at least {MIN_VALUES} are needed (the quantile function "
                         "interpolates between them; one value is kind = \"constant\")", allowed)
        if len(values) > MAX_VALUES:
            raise refuse(f"{len(values)} values; at most {MAX_VALUES} (a scenario embeds them)", allowed)
        for i, v in enumerate(values):
            if v < 0:
                raise _refuse_at((i,), "must be >= 0 (seconds)", allowed, v)
        if not any(values):
            raise refuse("all values are 0", allowed)
        return tuple(sorted(v + 0.0 for v in values))  # + 0.0: -0.0 becomes 0.0

    @field_validator("file")
    @classmethod
    def _file_not_blank(cls, file: str | None) -> str | None:
        if file is not None and not file.strip():  # any other file was read (and dropped) by _load_file
            raise refuse("an empty file name", EMPIRICAL_FORMS)
        return file

    def _complete(self) -> None:
        if self.values is None:
            raise refuse("empirical: no data given", EMPIRICAL_FORMS)
        self._table = _Table(self.values)

    def _data(self) -> _Table:
        if self._table is None:  # a model built without validation (model_construct)
            self._table = _Table(self.values)  # type: ignore[arg-type]
        return self._table

    @property
    def mean(self) -> float:
        """The mean of the interpolated distribution (trapezoid mean of the sorted values), seconds."""
        return self._data().mean

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        table = self._data()
        n = len(table.x)
        position = rng.random(size) * (n - 1)
        i = position.astype(np.intp)
        np.minimum(i, n - 2, out=i)  # u (n - 1) may round up to n - 1
        return table.x[i] + (position - i) * table.dx[i]

    def survival(self, x: float) -> float:
        values = self.values
        assert values is not None
        last = len(values) - 1
        k = bisect.bisect_right(values, x) - 1  # values[k] <= x < values[k + 1]
        if k < 0:
            return 1.0
        if k >= last:
            return 0.0
        fraction = (x - values[k]) / (values[k + 1] - values[k])
        return ((last - k) - fraction) / last


#: the field type: a distribution chosen by its ``kind``
AnyDistribution = Annotated[
    Union[Exponential, Constant, Lognormal, Gamma, Uniform, Erlang, Empirical], Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[Distribution] = TypeAdapter(AnyDistribution)
DISTRIBUTION_KINDS = ("exponential", "constant", "deterministic", "lognormal", "gamma", "uniform", "erlang",
                      "empirical")
