"""The ``transfer-sim`` command: one command, a subcommand per job.

* :mod:`.app`: the command group (one line ``error: ...`` per refusal) and :func:`fail`.
* :mod:`.args`: checks shared by the subcommands (targets, metric names, work bounds, folders).
* :mod:`.run`: ``run`` and ``report``; :mod:`.experiments`: ``sweep`` and ``tune``;
  :mod:`.statechart`: ``model`` and ``conform``; :mod:`.analytic`: ``validate`` and ``estimate``.
* :mod:`.main`: the subcommands registered in order; the console script's entry point is ``app``.
"""

from .app import fail
from .args import check_metric, load_or_fail, parse_target
from .main import app, main
from .run import MAIN_FIGURES, format_figures, write_run

__all__ = ["app", "main", "fail", "parse_target", "check_metric", "load_or_fail", "format_figures", "MAIN_FIGURES",
           "write_run"]
