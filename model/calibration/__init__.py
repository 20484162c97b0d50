"""Calibration: a scenario read off a contact log (``transfer-sim calibrate``; docs/calibrate.md).

* :mod:`.fits`: duration families by maximum likelihood (censored or not), chosen by AIC.
* :mod:`.legs`: the log cut into legs per group, and its clock grid.
* :mod:`.arrivals`, :mod:`.staffing`: the arrival and staffing profiles.
* :mod:`.types`: per contact type, each service's priority and a group's handle time per service.
* :mod:`.scenario`: :func:`calibrate` and :class:`Calibration`; :mod:`.build`, :mod:`.writer`: the commented TOML.
* :mod:`.report`: the HTML page of each fit against its data.
"""

from .fits import KINDS, Candidate, Fit, fit_durations
from .report import arrivals_chart, handle_time_chart, km_chart, staffing_chart, write_report
from .scenario import DEFAULT_TRANSFER_TIMEOUT, Calibration, CalibrationError, KaplanMeier, calibrate

__all__ = ["arrivals_chart", "handle_time_chart", "km_chart", "staffing_chart", "write_report", "KINDS", "Candidate", "Fit", "fit_durations", "DEFAULT_TRANSFER_TIMEOUT", "Calibration",
           "CalibrationError", "KaplanMeier", "calibrate"]
