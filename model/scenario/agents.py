"""Named agents: the groups each works in, with a skill level per group, and its shifts.

Why apart from the schema: a named agent's ``groups`` takes two forms (a name, or a table with a
skill level), which this module turns into plain names plus the levels, so that every reader of a
scenario (the engine, the estimate, planning) keeps seeing a list of group names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    Strict,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from ._base import Int, LaxList, Name, StrictModel
from .durations import Clock
from .errors import refuse
from .staffing import check_shifts

__all__ = ["Agent", "GroupLevel"]


class GroupLevel(StrictModel):
    """One of a named agent's groups with the agent's skill level in it: ``{ name = "billing", level = 2 }``."""

    name: str
    level: Int = 1

    @field_validator("level")
    @classmethod
    def _at_least_one(cls, level: int) -> int:
        if level < 1:
            raise refuse("a skill level must be at least 1",
                         'an integer >= 1 (1 by default; a group with routing = "highest_skill" prefers higher)')
        return level


def _name_or_level(value: Any) -> str:
    """A table (or a :class:`GroupLevel`) is a group with a level; anything else is read as a name."""
    return "one-of:level" if isinstance(value, (Mapping, GroupLevel)) else "one-of:name"


#: an entry of a named agent's ``groups``: a group name, or a group with a skill level
GroupEntry = Annotated[
    Annotated[str, Tag("one-of:name")] | Annotated[GroupLevel, Tag("one-of:level")], Discriminator(_name_or_level)
]


class Agent(StrictModel):
    """A named agent, possibly in several groups (each with a skill level), targetable as ``"agent:NAME"``.

    ``groups`` holds group names once validated (every reader of a scenario sees plain names); the
    levels other than 1 are kept apart (:meth:`level_in`) and written back as tables by ``to_dict``.
    """

    name: Name
    groups: LaxList[GroupEntry] = Field(min_length=1)
    max_concurrent: Int = Field(default=1, ge=1)
    #: clock windows ``[start, end)`` on shift (an end before its start crosses midnight); none: all day
    shifts: LaxList[Annotated[tuple[Clock, Clock], Strict(False)]] | None = None

    #: group -> skill level, for the levels other than 1
    _levels: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _names_and_levels(self) -> "Agent":
        entries = self.groups
        if any(isinstance(g, GroupLevel) for g in entries):
            self._levels = {g.name: g.level for g in entries if isinstance(g, GroupLevel) and g.level != 1}
            # NOTE: set in place, the model being frozen: the validated entries become plain names
            self.__dict__["groups"] = [g.name if isinstance(g, GroupLevel) else g for g in entries]
        return self

    @model_serializer(mode="wrap")
    def _dump_levels(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self._levels and isinstance(data, dict) and "groups" in data:
            data["groups"] = [{"name": g, "level": self._levels[g]} if g in self._levels else g for g in self.groups]
        return data

    def level_in(self, group: str) -> int:
        """The agent's skill level in ``group`` (1 unless its ``groups`` entry says otherwise)."""
        return self._levels.get(group, 1)

    @field_validator("shifts")
    @classmethod
    def _check_shifts(cls, shifts: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        if shifts is not None:
            check_shifts(shifts)
        return shifts
