"""Plans: the fewest agents per interval and group meeting every target, jointly with settings such
as the transfer timeout, confirmed by simulation (:func:`plan`, ``transfer-sim plan``)."""

from .plan import MAX_SETTINGS, Option, Plan, plan
from .targets import PlanError, PlanTarget, plan_targets

__all__ = ["MAX_SETTINGS", "Option", "Plan", "PlanError", "PlanTarget", "plan", "plan_targets"]
