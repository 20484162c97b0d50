"""Scopes: which contacts, transfers or agents a figure is about, written one way everywhere.

A scope is ``"overall"`` (every contact), ``"service:NAME"`` (the contacts of one service),
``"target:NAME"`` (the transfers sent to one group or named agent, e.g. ``"target:tech"`` or
``"target:agent:anna"``) or ``"group:NAME"`` (one group's agents: occupancy, agents on shift).
``SimulationResult.metric``, ``.table``, ``.by_interval``, ``SweepResult.metric``, ``tune`` and the
CLI's ``--scope`` all read it through :func:`parse_scope`; the older two-argument form
(``metric(m, "target", "tech")``) is the same scope.

Why one module: a scope typed in the CLI, in a notebook and in the report must mean the same thing,
and a scope a result does not have must say which ones it has, not raise a bare ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..errors import TransferSimError

__all__ = ["SCOPE_KINDS", "FORMS", "ScopeError", "UnknownScope", "parse_scope", "scope_text", "scope_words",
           "scopes_in", "select_scope", "derive_scopes"]

SCOPE_KINDS: tuple[str, ...] = ("overall", "service", "target", "group")
"""The kinds of scope, in the order results list them."""

FORMS = "overall, service:NAME, target:NAME or group:NAME"
"""The forms a scope is written in, as error messages say them."""


class ScopeError(TransferSimError, ValueError):
    """A scope that is not written in one of the :data:`FORMS`."""


class UnknownScope(TransferSimError, KeyError):
    """A well-formed scope that the result at hand does not have; the message lists those it has.

    A ``KeyError`` too, so code that looked a figure up and caught ``KeyError`` still does."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def parse_scope(scope: str, key: str | None = None) -> tuple[str, str]:
    """``(kind, key)`` of a scope: ``"overall"`` -> ``("overall", "all")``, ``"target:tech"`` ->
    ``("target", "tech")``; also the two-argument form ``parse_scope("target", "tech")``.

    Raises:
        ScopeError: not one of :data:`FORMS` (a missing name, an unknown kind, both forms at once).
    """
    if not isinstance(scope, str):
        raise ScopeError(f"a scope is text ({FORMS}); got {scope!r}")
    text = scope.strip()
    kind, sep, name = text.partition(":")
    if key is not None:
        if sep:
            raise ScopeError(f"scope {scope!r} already names its key; give {scope!r} alone or "
                             f"({kind!r}, {key!r}), not both")
        name, sep = str(key), ":"
    if kind == "overall" and name in ("", "all"):
        return ("overall", "all")
    if kind not in SCOPE_KINDS:
        raise ScopeError(f"scope must be {FORMS}; got {scope!r}")
    if not sep or not name.strip():
        raise ScopeError(f"scope {kind!r} needs a name: {kind}:NAME (e.g. {kind}:{_example(kind)}); got {scope!r}")
    return (kind, name.strip())


def _example(kind: str) -> str:
    return {"service": "support", "target": "tech", "group": "tech"}.get(kind, "all")


def scope_text(kind: str, key: str) -> str:
    """The one way a scope is written: ``"overall"``, ``"target:tech"``."""
    return "overall" if kind == "overall" else f"{kind}:{key}"


def scope_words(kind: str, key: str) -> str:
    """A scope in a supervisor's words: ``"all contacts"``, ``"transfers to tech"``,
    ``"contacts of the support service"``, ``"the tech group's agents"``."""
    if kind == "overall":
        return "all contacts"
    if kind == "target":
        return f"transfers to the agent {key[6:]}" if key.startswith("agent:") else f"transfers to {key}"
    if kind == "service":
        return f"contacts of the {key} service"
    return f"the {key} group's agents"


def scopes_in(frame: pd.DataFrame) -> list[str]:
    """The scopes a tidy frame (``scope``, ``key`` columns) has, as text: ``overall`` first, then
    services, targets and groups, each by name."""
    if frame is None or len(frame) == 0:
        return []
    pairs = frame[["scope", "key"]].astype(str).drop_duplicates()
    order = {k: i for i, k in enumerate(SCOPE_KINDS)}
    ranked = sorted(pairs.itertuples(index=False), key=lambda r: (order.get(r[0], 9), r[1]))
    return [scope_text(k, v) for k, v in ranked]


def select_scope(frame: pd.DataFrame, scope: str, key: str | None = None, *, what: str = "this result") -> tuple[str, str]:
    """``(kind, key)`` of ``scope`` (either form), checked against the scopes ``frame`` has.

    Raises:
        ScopeError: the scope is not well formed.
        UnknownScope: ``frame`` has no such scope; the message lists the scopes it has.
    """
    kind, name = parse_scope(scope, key)
    have = frame[(frame["scope"].astype(str) == kind) & (frame["key"].astype(str) == name)] if len(frame) else frame
    if len(have) == 0:
        known = scopes_in(frame)
        raise UnknownScope(f"no scope {scope_text(kind, name)!r} in {what}; its scopes: "
                           f"{', '.join(known) if known else 'none'}")
    return kind, name


def derive_scopes(paths: Iterable[str], targets: Sequence[str]) -> list[str]:
    """The scopes a question about ``paths`` is about: ``target:NAME`` for each varied path of a
    group (``groups.tech.agents``) or a named agent (``agents.anna.shifts``) that receives transfers
    (is in ``targets``), in the order the paths are given; ``["overall"]`` when none is."""
    out: list[str] = []
    for path in paths:
        parts = str(path).split(".")
        if len(parts) < 3:
            continue
        name = parts[1] if parts[0] == "groups" else f"agent:{parts[1]}" if parts[0] == "agents" else None
        if name is not None and name in targets:
            out.append(scope_text("target", name))
    return list(dict.fromkeys(out)) or ["overall"]
