"""The HTML report: one self-contained file (charts embedded, no network) and its PNGs, answer first.

* :mod:`.build`: :func:`build_report`, the page from a run, a sweep or a tuning.
* :mod:`.answers`: the answer of a sweep or a tuning: what to set, what it achieves, what it costs.
* :mod:`.headline`: the answer of a run, and the evidence sentences.
* :mod:`.tables`: the tables of figures, occupancy, the sweep and the tuning, in words.
* :mod:`.services`: several services side by side (a column each, the one that waits longest, per interval).
* :mod:`.glossary`: what each figure shown means, with this scenario's numbers.
* :mod:`.failures`: failed sweep points, said first and marked in the charts and the table.
* :mod:`.scenario_rows`: the scenario in words; :mod:`.words`: numbers and durations in words.
* :mod:`.loading`: reading run and sweep folders; :class:`ReportError`.
"""

from .answers import sweep_answer, tune_answer
from .build import TEMPLATE, build_report, sweep_scopes
from .failures import failures_headline
from .headline import headline, sweep_headline, tune_headline
from .loading import ReportError, load_failures, load_results

__all__ = ["build_report", "headline", "sweep_answer", "tune_answer", "sweep_headline", "tune_headline",
           "failures_headline", "sweep_scopes", "load_results", "load_failures", "ReportError", "TEMPLATE"]
