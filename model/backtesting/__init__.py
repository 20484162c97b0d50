"""The backtest: a contact log (observed) against a run with intervals (simulated), per interval of
the clock (docs/backtest.md). ``backtest(log, result)`` returns a :class:`Backtest`; with several services,
:mod:`.services` sets them side by side."""

from .chart import backtest_chart, backtest_html, summary_lines
from .compare import COMPARED, Backtest, BacktestError, backtest, days_per_run, observed
from .services import per_service, service_keys, service_lines, services_chart

__all__ = ["COMPARED", "Backtest", "BacktestError", "backtest", "observed", "days_per_run", "backtest_chart",
           "backtest_html", "summary_lines", "per_service", "service_keys", "service_lines", "services_chart"]
