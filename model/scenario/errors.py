"""ScenarioError and the translation of pydantic errors into one readable line per problem.

Why: a supervisor editing a TOML file needs the file, the field (by *name*, e.g.
``groups.billing.handle_time.kind``), the bad value and what is allowed - not pydantic's raw dump.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from ..errors import TransferSimError

__all__ = ["Problem", "ScenarioError", "from_validation_error", "refuse", "show", "shorten"]

#: every distribution ``kind``; used to drop pydantic's union tags from field paths
_KIND_TAGS = ("exponential", "constant", "deterministic", "lognormal", "gamma", "uniform", "erlang", "empirical")
_MISSING = object()
#: the longest value (its repr) and the longest path or allowed list a problem line shows
VALUE_LIMIT = 80
TEXT_LIMIT = 200
MESSAGE_LIMIT = 400
_CONTROL = {c: f"\\x{c:02x}" for c in range(32)} | {
    10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f", 0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"
}


def shorten(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` on one line (control characters escaped), cut to ``limit`` characters with ``...``."""
    text = text.translate(_CONTROL)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """The repr of a bad value for a message: one line, at most ``limit`` characters."""
    try:
        text = repr(value)
    except RecursionError:  # a value nested deeper than repr can go
        text = f"<a {type(value).__name__} nested too deeply to show>"
    return shorten(text, limit)


class Problem(NamedTuple):
    """One problem in a scenario: where (dotted path), what, the bad value and what is allowed."""

    path: str
    message: str
    value: Any = _MISSING
    allowed: str | None = None

    def line(self, source: str | None) -> str:
        """The problem as one line: ``file: path: message; got VALUE; allowed: ...``.

        Why one short line whatever the input: the CLI prints it as is, and a value may be a
        whole table or a string with newlines. Control characters are escaped; the value is cut
        to 80 characters, the path and allowed list to 200, the message to 400, each with ``...``.
        """
        parts = [shorten(source, 4 * TEXT_LIMIT) if source else "", shorten(self.path, TEXT_LIMIT)]
        text = ": ".join([p for p in parts if p] + [shorten(self.message, MESSAGE_LIMIT)])
        if self.value is not _MISSING:
            text += f"; got {show(self.value)}"
        if self.allowed:
            text += f"; allowed: {shorten(self.allowed, TEXT_LIMIT)}"
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


def refuse(message: str, allowed: str) -> PydanticCustomError:
    """An error for a validator to raise: reported as ``path: message; got VALUE; allowed: ALLOWED``."""
    return PydanticCustomError("refused", "{message}", {"message": message, "allowed": allowed})


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
            elif elem in _KIND_TAGS or elem.startswith(("function-", "nullable", "tagged-union", "one-of:")):
                continue  # a discriminated-union tag or a validator wrapper, not a field
            else:
                node = None
                segs.append(elem)
    return segs, node


#: how a list is written in TOML, per field name (the last segment of the path)
_LIST_FORMS = {
    "services": "an array of tables ([[services]])",
    "groups": "an array of tables ([[groups]])",
    "agents": "an array of tables ([[agents]])",
    "transfers": "an array of inline tables (transfers = [{ to = ..., probability = ... }])",
    "profile": 'an array of ["HH:MM", rate_per_hour] pairs',
}


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def _not_a_list(segs: list[str], value: Any) -> Problem:
    """``services = {...}`` instead of ``[[services]]``: say so, in TOML words, without the table."""
    path = ".".join(segs)
    last = segs[-1] if segs else ""
    field = last.split("[")[0].rsplit(".", 1)[-1]
    per_entry = "agents" if ".agents.profile" in path else "rate_per_hour"
    if last.endswith("]") and field == "profile":
        field, form = "a profile entry", f'a pair ["HH:MM", {per_entry}]'
    elif field == "profile":
        form = f'an array of ["HH:MM", {per_entry}] pairs'
    elif last.endswith("]") and field == "shifts":
        field, form = "a shift", 'a pair ["HH:MM", "HH:MM"] (its start and end)'
    elif field == "shifts":
        form = 'an array of ["HH:MM", "HH:MM"] pairs (each shift\'s start and end)'
    elif len(segs) == 1 and field in ("services", "groups", "agents"):
        form = _LIST_FORMS[field]
    elif field == "groups":  # a named agent's groups
        form = 'an array of group names (groups = ["a", "b"])'
    elif field in ("transfers", "profile"):
        form = _LIST_FORMS[field]
    else:
        form = "an array"
    message = f"{field or 'the value'} must be {form}, got {_type_name(value)}"
    if isinstance(value, dict):  # never dump a whole table into the message
        return Problem(path, message)
    return Problem(path, message, value)


#: strict-mode type errors, in the words of a TOML file
_TYPE_MESSAGES = {
    "int_type": "must be an integer (such as 3; not a boolean, a float such as 3.0, or a string)",
    "float_type": "must be a number (such as 0.5 or 3; not a boolean or a string)",
    "finite_number": "must be a finite number (not nan or inf)",
    "string_type": "must be a string",
    "dict_type": "must be a table (key = value pairs)",
}


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
        if etype == "refused":
            problems.append(Problem(path, ctx["message"], value, ctx["allowed"]))
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
        if etype in ("list_type", "tuple_type"):
            problems.append(_not_a_list(segs, value))
            continue
        if etype == "float_type" and isinstance(value, int) and not isinstance(value, bool):
            problems.append(Problem(path, "too large for a number (it has no finite float value)", value))
            continue
        if etype == "int_type" and len(segs) == 2 and segs[0].startswith("groups") and segs[1] == "agents":
            problems.append(Problem(path, "must be an integer (agents on shift all day, such as 3; not a boolean, a float or a "
                                          'string) or a staffing profile { profile = [["HH:MM", agents], ...] }', value))
            continue
        if etype in _TYPE_MESSAGES:
            problems.append(Problem(path, _TYPE_MESSAGES[etype], value))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Input should be "):
            msg = "must be " + msg[len("Input should be ") :]
        problems.append(Problem(path, msg, value))
    return ScenarioError(problems, source)
