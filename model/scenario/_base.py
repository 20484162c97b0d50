"""The base of every scenario model: strict types, and unknown fields are errors listing the allowed names.

Why strict: a TOML file says what it means. ``agents = true``, ``max_concurrent = "3"`` or
``seed = 1.0`` are mistakes to report, not values to coerce (pydantic's lax mode would read them as
1, 3 and 1). In strict mode an int field takes integers only (not booleans, floats or strings), a
float field integers or floats (not booleans or strings); durations have their own parser.
Lists stay lax at the container level only (:data:`LaxList`), so a tuple given from Python
(``with_changes``) or a TOML array for a ``tuple`` works; their items are still strict.
"""

from __future__ import annotations

import math
import numbers
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from .errors import allowed_list

T = TypeVar("T")

#: TOML integers are 64-bit signed; a bigger one cannot come from a conforming file
INT64_MAX = 2**63 - 1


def _plain_number(value: Any) -> Any:
    """numpy's integers and floats (from Python code, e.g. ``with_changes``) as Python's; nothing else."""
    if isinstance(value, (bool, int, float, str)) or not isinstance(value, numbers.Real):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_ is not a number either
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _finite_number(value: Any) -> Any:
    """nan and inf are refused as such (before bounds such as ``gt=0``, which would say less)."""
    value = _plain_number(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


def _check_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("a name must not be empty")
    if any(c in value for c in ".:[]"):
        raise ValueError("a name must not contain '.', ':', '[' or ']'")
    return value


#: a group, service or agent name: non-empty, without '.', ':', '[' or ']' (they delimit paths and targets)
Name = Annotated[str, AfterValidator(_check_name)]


#: an integer (never a boolean, float or string) within TOML's 64-bit range
Int = Annotated[int, BeforeValidator(_plain_number), Strict(), Field(le=INT64_MAX)]
#: a finite number: an integer or a float, never a boolean or a string, never nan or inf
Real = Annotated[float, BeforeValidator(_finite_number), Strict(), Field(allow_inf_nan=False)]
#: a list that also takes a tuple (its items are validated strictly)
LaxList = Annotated[list[T], Strict(False)]


class StrictModel(BaseModel):
    """Frozen, strict, ``extra="forbid"`` model; a typo'd key is reported with the allowed keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                raise PydanticCustomError(
                    "unknown_fields",
                    "unknown field(s) {unknown}",
                    {"unknown": unknown, "allowed": allowed_list(list(cls.model_fields))},
                )
        return data
