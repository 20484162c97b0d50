"""The HTML report: one self-contained file (charts embedded, no network) and its PNGs, answer first.

* :mod:`.build`: :func:`build_report`, the page from a run, a sweep or a tuning.
* :mod:`.headline`: the opening sentences in plain words.
* :mod:`.tables`: the tables of figures, occupancy, the sweep and the tuning, and what each figure means.
* :mod:`.failures`: failed sweep points, said first and marked in the charts and the table.
* :mod:`.scenario_rows`: the scenario in words; :mod:`.words`: numbers and durations in words.
* :mod:`.loading`: reading run and sweep folders; :class:`ReportError`.
"""

from .build import TEMPLATE, build_report
from .failures import failures_headline
from .headline import headline, sweep_headline, tune_headline
from .loading import ReportError, load_failures, load_results

__all__ = ["build_report", "headline", "sweep_headline", "tune_headline", "failures_headline", "load_results",
           "load_failures", "ReportError", "TEMPLATE"]
