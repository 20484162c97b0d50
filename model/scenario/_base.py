"""The base of every scenario model: unknown fields are errors that list the allowed field names."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from .errors import allowed_list


class StrictModel(BaseModel):
    """Frozen, ``extra="forbid"`` model; a typo'd key is reported with the allowed keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
