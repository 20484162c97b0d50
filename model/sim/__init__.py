"""The simulation: SimPy decides when things happen, the lifecycle decides what may happen.

:func:`simulate` runs a scenario (:mod:`.run`); :class:`Replication` is one replication
(:mod:`.engine`), built from agents and their slots (:mod:`.agents`), routing policies
(:mod:`.routing`), arrival clocks (:mod:`.arrivals`) and named random streams (:mod:`.streams`).
"""

from .engine import Replication, ReplicationOutput
from .routing import POLICIES
from .run import combine, run_replication, simulate
from .streams import PURPOSES, stream

__all__ = ["simulate", "run_replication", "combine", "Replication", "ReplicationOutput", "POLICIES", "PURPOSES", "stream"]
