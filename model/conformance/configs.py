"""What the suite's generator drives the model with: the case configurations, the event data it
tries, the time step; and how a case's configuration becomes the model's rules and what an
expectation observes.

This is test data, not rules: every rule is read from :mod:`model.lifecycle`. The palette is
checked against the chart's events at import, so an event added to the chart without data to
try fails loudly here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..lifecycle import EVENTS, Contact, TransferRules

EPSILON = 0.125
""""Just before/after" a deadline, in seconds. A power of two, so that every time in a suite is
exactly representable and sums of ``advance`` steps land exactly on the deadlines."""

_TARGETS: dict[str, list[str]] = {"sales": ["a1"], "billing": ["b1", "b2"], "night": []}
CONFIGS: dict[str, dict[str, Any]] = {
    "abandon": {
        "transfer_timeout": 10.0,
        "dissuasion_timeout": 5.0,
        "on_transfer_timeout": "abandon",
        "targets": _TARGETS,
    },
    "return": {
        "transfer_timeout": 10.0,
        "dissuasion_timeout": None,
        "on_transfer_timeout": "return",
        "targets": _TARGETS,
    },
}
"""The configurations the generator explores: owner ``a1`` (group ``sales``), target group
``billing`` = {b1, b2}, group ``night`` with nobody on shift (a target all the same: a transfer
to it waits in ``routing`` until its timer), single-agent targets ``agent:NAME``; every timeout
policy."""

EDGE_CONFIGS: dict[str, dict[str, Any]] = {
    "dissuasion 0": {**CONFIGS["abandon"], "dissuasion_timeout": 0.0},
    "transfer 0, abandon": {**CONFIGS["abandon"], "transfer_timeout": 0.0, "dissuasion_timeout": None},
    "transfer 0, return": {**CONFIGS["return"], "transfer_timeout": 0.0},
}
"""Configurations with timers of length 0 (due at the instant they start, LIFECYCLE.md "Staffing
over the day"). The generator explores them for the goals :data:`CONFIGS` cannot reach only, so
that every other case keeps its ordinary timers; the random mode does not use them (a contact
dissuaded on arrival is a walk that ends at once)."""

PALETTE: dict[str, list[dict[str, Any]]] = {
    "assign": [{"agent": "a1"}, {}],
    "close": [{}],
    "customer_leave": [{}],
    "dissuade": [{}],
    "request_transfer": [
        {"target": "billing", "message": "billing question"},
        {"target": "agent:b1"},
        {"target": "agent:a1"},
        {"target": "nowhere"},
        {},
        {"target": "night"},
    ],
    "offer": [{"agents": ["b1"]}, {"agents": ["b2"]}, {"agents": ["b1", "b2"]}, {"agents": ["a1"]}, {"agents": []}],
    "accept": [{"agent": "b1"}, {"agent": "b2"}],
    "reject": [{"agent": "b1"}, {"agent": "b2"}],
    "offer_timeout": [{"agent": "b1"}, {"agent": "b2"}],
    "withdraw": [{"agent": "b1"}, {"agent": "b2"}],
    "transfer_timeout": [{}],
}
"""Event data the generator (and the random mode) tries for each event, in the order tried.
This is test data, not rules; every event of the chart must have some (checked at import)."""


def _check_palette() -> None:
    missing = [e for e in EVENTS if e not in PALETTE]
    extra = [e for e in PALETTE if e not in EVENTS]
    if missing or extra:
        raise ImportError(f"conformance PALETTE out of step with the chart: no data for {missing}, unknown {extra}")


_check_palette()


def rules_from_config(config: Mapping[str, Any]) -> TransferRules:
    """The model's :class:`~model.lifecycle.TransferRules` for a case configuration (agents
    always available; no ``targets``: any target and any agent)."""
    targets = config.get("targets")
    return TransferRules(
        transfer_timeout=float(config.get("transfer_timeout", 60.0)),
        dissuasion_timeout=(
            None if config.get("dissuasion_timeout") is None else float(config["dissuasion_timeout"])
        ),
        on_transfer_timeout=config.get("on_transfer_timeout", "abandon"),
        targets=None if targets is None else {k: frozenset(v) for k, v in targets.items()},
        is_available=None,
    )


def observe(contact: Contact) -> dict[str, Any]:
    """What an expectation holds about a contact: state, owner, offered (sorted), transfer count."""
    d = contact.data
    return {
        "state": d.state,
        "owner": d.owner,
        "offered": sorted(d.offered),
        "transfer_count": d.transfer_count,
    }


__all__ = ["EPSILON", "CONFIGS", "EDGE_CONFIGS", "PALETTE", "rules_from_config", "observe"]
