"""The calibrated scenario as commented TOML: every number with where it came from.

Why a writer of our own: the scenario must say, next to each value, its sample size and fit (a
TOML library would drop the comments), and the file must load with
:func:`model.scenario.load_scenario` exactly as written, so :func:`~.scenario.calibrate` parses this
text back to build its :class:`~model.scenario.Scenario`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

__all__ = ["toml_value", "Writer"]


def toml_value(v: Any) -> str:
    """A TOML literal for a bool, int, float, string, list or (inline) table of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"not a finite number: {v}")
        return repr(float(f"{v:.10g}"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def _comment(text: str) -> str:
    return " ".join(str(text).split())


class Writer:
    """Lines of TOML with comments; ``str(writer)`` is the file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __str__(self) -> str:
        return "\n".join(self.lines) + "\n"

    def comment(self, *texts: str) -> None:
        """``# text`` lines (each text one line, whitespace collapsed)."""
        self.lines += [f"# {_comment(t)}" if t else "#" for t in texts]

    def blank(self) -> None:
        self.lines.append("")

    def header(self, name: str, array: bool = True) -> None:
        self.lines.append(f"[[{name}]]" if array else f"[{name}]")

    def key(self, name: str, value: Any, note: str = "") -> None:
        """``name = value`` with an optional trailing comment."""
        self.lines.append(f"{name} = {toml_value(value)}" + (f"  # {_comment(note)}" if note else ""))

    def profile(self, name: str, entries: Iterable[tuple[str, Any, str]]) -> None:
        """``name = { profile = [ ["HH:MM", value],  # note ... ] }`` one entry a line."""
        self.lines.append(f"{name} = {{ profile = [")
        for clock, value, note in entries:
            self.lines.append(f"  [{toml_value(clock)}, {toml_value(value)}]," + (f"  # {_comment(note)}" if note else ""))
        self.lines.append("] }")

    def distribution(self, name: str, table: dict[str, Any], note: str) -> None:
        """A distribution with its account above it; an empirical's values ten a line."""
        self.comment(f"{name}: {note}")
        if table.get("kind") != "empirical":
            self.key(name, table)
            return
        values = [toml_value(float(v)) for v in table["values"]]
        self.lines.append(f'{name} = {{ kind = "empirical", values = [')
        for i in range(0, len(values), 10):
            self.lines.append("  " + ", ".join(values[i:i + 10]) + ",")
        self.lines.append("] }")

    def rules(self, name: str, rules: list[tuple[dict[str, Any], str]]) -> None:
        """``name = [ {...},  # note ... ]`` one rule a line."""
        self.lines.append(f"{name} = [")
        for rule, note in rules:
            self.lines.append(f"  {toml_value(rule)}," + (f"  # {_comment(note)}" if note else ""))
        self.lines.append("]")
