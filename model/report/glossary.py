"""The report's glossary: every figure the page shows, in plain words, with the numbers of this
scenario (its service-level threshold, its transfer timeout), and the words the answers use
(simulated run, 95 % range, upper 95 % bound, meeting a target).

Why here: the meanings themselves are the figures' records (:mod:`model.results.figures`,
:mod:`model.results.outcomes`); only what a given scenario adds to them is said here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..results.figures import FIGURES, FigureInfo
from ..results.outcomes import OUTCOME_FIGURES
from .words import duration_text, seconds_text

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["glossary", "TERMS"]

TERMS: tuple[str, ...] = ("simulated run", "95 % range", "upper 95 % bound", "meets the target")
"""The words of the answers that the glossary defines after the figures."""


def _per_service(scenario: Scenario | None, attr: str, fmt: Any) -> str:
    if scenario is None or not hasattr(scenario, "services"):
        return ""
    values = {s.name: getattr(s, attr, None) for s in scenario.services}
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return ""
    if len(set(values.values())) == 1:
        return fmt(next(iter(values.values())))
    return ", ".join(f"{fmt(v)} ({k})" for k, v in values.items())


def _returns(scenario: Scenario | None) -> bool:
    return scenario is not None and any(getattr(s, "on_transfer_timeout", "") == "return"
                                        for s in getattr(scenario, "services", []))


def _extra(name: str, scenario: Scenario | None) -> str:
    timeout = _per_service(scenario, "transfer_timeout", seconds_text)
    if name == "service_level":
        threshold = _per_service(scenario, "service_level_threshold", seconds_text)
        return f" The threshold in this scenario: {threshold}." if threshold else ""
    if name in ("transfer_abandonment_rate", "transfer_expired_share") and timeout:
        text = f" The transfer timeout in this scenario: {timeout}."
        if _returns(scenario):
            text += " Where the policy is to return, a transfer whose timer runs out goes back to its sender instead."
        return text
    if name == "transfer_returned_share" and not _returns(scenario):
        return " No service of this scenario returns transfers, so this is 0 %."
    if name == "dissuaded":
        dissuasion = _per_service(scenario, "dissuasion_timeout", duration_text)
        return f" The dissuasion timeout in this scenario: {dissuasion}." if dissuasion else ""
    return ""


def _terms(scenario: Scenario | None, runs: int | None) -> list[dict[str, str]]:
    sim = getattr(scenario, "simulation", None)
    span = (f"the scenario's {duration_text(sim.horizon)} (after a {duration_text(sim.warmup)} warm-up that is not "
            "counted)") if sim is not None else "the scenario"
    many = f"{runs} such runs" if runs else "such runs"
    return [
        {"term": "simulated run", "metric": "",
         "definition": f"One simulation of {span} with its own random customers, like one more day of the same "
                       f"kind (a replication). Each figure is the mean over {many}."},
        {"term": "95 % range", "metric": "",
         "definition": "Shown in brackets after a figure: the range in which its long-run value lies with 95 % "
                       "confidence, given the runs simulated (its confidence interval). More runs narrow it."},
        {"term": "upper 95 % bound", "metric": "",
         "definition": "The top of the 95 % range (the lower bound is its bottom). For a figure where lower is "
                       "better, such as transfers lost, this is how high it plausibly is."},
        {"term": "meets the target", "metric": "",
         "definition": "A setting meets a target only when its whole 95 % range is on the good side: for "
                       "transfers lost, the upper 95 % bound is at or under the target, so the answer does not "
                       "rest on lucky runs."},
    ]


def glossary(names: Sequence[str], scenario: Scenario | None = None, runs: int | None = None) -> list[dict[str, str]]:
    """``term``, ``metric`` (the figure's name, for data attributes; empty for a word), ``definition``
    of each figure named that has a record (others are left out), then of :data:`TERMS`."""
    infos: dict[str, FigureInfo] = {**FIGURES, **OUTCOME_FIGURES}
    out = [{"term": infos[n].label, "metric": n, "definition": infos[n].definition + _extra(n, scenario)}
           for n in dict.fromkeys(names) if n in infos]
    return out + _terms(scenario, runs)
