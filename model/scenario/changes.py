"""Dotted-path changes to a scenario's data (``Scenario.with_changes``), each step checked.

Why apart from the schema: walking a path through models, named list items and plain values is
its own small concern, with its own error messages; the schema only calls :func:`apply_change`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import Problem, ScenarioError, allowed_list

if TYPE_CHECKING:
    from .schema import Scenario

__all__ = ["apply_change"]


def apply_change(data: dict[str, Any], scenario: Scenario, path: str, value: Any, source: str | None) -> None:
    """Set ``value`` at dotted ``path`` in ``data`` (the dump of ``scenario``), checking each step."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python", exclude_none=True)
    parts = path.split(".")
    node_data: Any = data
    node_obj: Any = scenario
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        key: Any
        if isinstance(node_obj, BaseModel):
            fields = list(type(node_obj).model_fields)
            if part not in fields:
                raise ScenarioError([Problem(here, "no such field", part, allowed_list(fields))], source)
            key = part
            child = getattr(node_obj, part)
        elif isinstance(node_obj, (list, tuple)):
            names = [getattr(x, "name", None) for x in node_obj]
            if node_obj and all(isinstance(n, str) for n in names):
                if part not in names:
                    raise ScenarioError(
                        [Problem(here, "no item with this name", part, allowed_list(names))], source
                    )
                key = names.index(part)
            else:
                indices = allowed_list([str(i) for i in range(len(node_obj))])
                if not (part.isdigit() and int(part) < len(node_obj)):
                    raise ScenarioError(
                        [Problem(here, "no such index", part, indices)],
                        source,
                    )
                key = int(part)
            child = node_obj[key]
        else:
            prev = ".".join(parts[:depth])
            raise ScenarioError(
                [Problem(here, f"{prev} is a plain value ({node_obj!r}); set it as a whole", part,
                         repr(prev))],
                source,
            )
        if last:
            node_data[key] = copy.deepcopy(value)
            return
        if child is None:
            raise ScenarioError(
                [Problem(here, "is not set; set the whole value instead of a part of it", None, repr(here))],
                source,
            )
        if isinstance(node_data, dict) and key not in node_data:
            node_data[key] = {}
        if isinstance(node_data[key], tuple):
            node_data[key] = list(node_data[key])
        node_data = node_data[key]
        node_obj = child
