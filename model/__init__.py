"""transfer-sim: the contact-transfer lifecycle as a statechart, simulated and testable.

The public API is listed once, in ``__all__``.
"""

from .lifecycle import (
    COMPILED,
    Contact,
    ContactData,
    CompiledLifecycle,
    EventNotAllowed,
    SimTime,
    TransferLifecycle,
    TransferRules,
    transitions,
)
from .spec import mermaid, transition_table, write_diagram

__all__ = [
    "COMPILED",
    "CompiledLifecycle",
    "Contact",
    "ContactData",
    "EventNotAllowed",
    "SimTime",
    "TransferLifecycle",
    "TransferRules",
    "mermaid",
    "transition_table",
    "transitions",
    "write_diagram",
]
