"""ScenarioError and the translation of pydantic errors into one readable line per problem.

Why: a supervisor editing a TOML file needs the file, the field (by *name*, e.g.
``groups.billing.handle_time.kind``), the bad value and what is allowed - not pydantic's raw dump.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

from ..errors import TransferSimError

__all__ = ["Problem", "ScenarioError", "from_validation_error"]

#: every distribution ``kind``; used to drop pydantic's union tags from field paths
_KIND_TAGS = ("exponential", "constant", "deterministic", "lognormal", "gamma", "uniform", "erlang")
_MISSING = object()


class Problem(NamedTuple):
    """One problem in a scenario: where (dotted path), what, the bad value and what is allowed."""

    path: str
    message: str
    value: Any = _MISSING
    allowed: str | None = None

    def line(self, source: str | None) -> str:
        """The problem as one line: ``file: path: message; got VALUE; allowed: ...``."""
        parts = [p for p in (source, self.path) if p]
        text = ": ".join(parts + [self.message])
        if self.value is not _MISSING:
            text += f"; got {self.value!r}"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text


class ScenarioError(TransferSimError):
    """A scenario file or dict is unusable. ``str()`` gives one line per problem, each naming the file.

    Attributes: ``source`` (file path or label, may be None) and ``problems`` (list of :class:`Problem`).
    """

    def __init__(self, problems: Sequence[Problem] | str, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__("\n".join(p.line(source) for p in self.problems))


def allowed_list(values: Sequence[Any]) -> str:
    """``'a', 'b', 'c'`` (or ``(none)``), for the *allowed* part of a message."""
    return ", ".join(repr(v) for v in values) if values else "(none)"


def _walk_path(loc: Sequence[Any], data: Any) -> tuple[list[str], Any]:
    """Turn a pydantic ``loc`` into path segments, naming list items by their ``name``; return the node."""
    segs: list[str] = []
    node: Any = data
    for elem in loc:
        if isinstance(elem, int):
            item = node[elem] if isinstance(node, list) and -len(node) <= elem < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name and segs and not any(c in name for c in ".[] "):
                segs[-1] = f"{segs[-1]}.{name}"
            elif segs:
                segs[-1] = f"{segs[-1]}[{elem}]"
            else:
                segs.append(f"[{elem}]")
            node = item
        else:
            elem = str(elem)
            if isinstance(node, dict) and elem in node:
                node = node[elem]
                segs.append(elem)
            elif elem in _KIND_TAGS or elem.startswith(("function-", "nullable", "tagged-union")):
                continue  # a discriminated-union tag or a validator wrapper, not a field
            else:
                node = None
                segs.append(elem)
    return segs, node


def from_validation_error(exc: ValidationError, data: Any, source: str | None) -> ScenarioError:
    """Build a :class:`ScenarioError` from a pydantic error, using the raw ``data`` to name list items."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        segs, _ = _walk_path(err["loc"], data)
        path = ".".join(segs)
        etype = err["type"]
        ctx = err.get("ctx") or {}
        value = err.get("input", _MISSING)
        if etype == "scenario_problems":
            problems.extend(ctx["problems"])
            continue
        if etype == "unknown_fields":
            for field in ctx["unknown"]:
                problems.append(
                    Problem(f"{path}.{field}" if path else field, "unknown field", _MISSING, ctx["allowed"])
                )
            continue
        if etype == "missing":
            problems.append(Problem(path, "required field is missing"))
            continue
        if etype in ("union_tag_invalid", "union_tag_not_found"):
            kpath = f"{path}.kind" if path else "kind"
            tags = ctx.get("expected_tags") or allowed_list(_KIND_TAGS)
            if etype == "union_tag_not_found":
                problems.append(Problem(kpath, "'kind' is missing", _MISSING, tags))
            else:
                problems.append(Problem(kpath, "unknown kind", ctx.get("tag", value), tags))
            continue
        if etype == "model_type" or etype == "model_attributes_type":
            problems.append(Problem(path, "expected a table (key = value pairs)", value))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Input should be "):
            msg = "must be " + msg[len("Input should be ") :]
        problems.append(Problem(path, msg, value))
    return ScenarioError(problems, source)
