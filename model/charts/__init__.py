"""Charts of simulation results: each function takes results and returns a matplotlib ``Figure``.

Why: the report, notebooks and the CLI draw the same pictures from the same frames
(``SimulationResult`` and the tidy sweep frame of :mod:`model.experiments`), with one style:
labelled axes with units, sizes readable in a report, and the colour-blind-safe Okabe-Ito palette.
How each metric is labelled, formatted and coloured is its record in :mod:`model.results.figures`.

* :mod:`.style`: the palette, the style, empty figures, PNG output.
* :mod:`.frames`: reading sweep frames (varied paths, slices, the recommended setting).
* :mod:`.sweeps`: a figure against a varied setting, and the heat map of two settings.
* :mod:`.runs`: one run: time to join, how contacts and transfers end, the simulated day.
* :mod:`.intervals`: one run per interval of the clock (``simulate(..., interval=)``): arrivals and
  staffing, queue and transfer abandonment with their bands, the worst interval.
* :mod:`.diagram`: the statechart.
"""

from .diagram import statechart_chart
from .frames import SWEEP_COLUMNS, param_columns, recommended_setting
from .intervals import intervals_chart
from .runs import CONTACT_ENDS, TRANSFER_ENDS, outcomes_chart, time_to_join_cdf, timeline_chart
from .style import PALETTE, save_png, style
from .sweeps import heatmap_chart, sweep_chart

__all__ = [
    "PALETTE",
    "CONTACT_ENDS",
    "TRANSFER_ENDS",
    "SWEEP_COLUMNS",
    "style",
    "param_columns",
    "recommended_setting",
    "sweep_chart",
    "time_to_join_cdf",
    "outcomes_chart",
    "timeline_chart",
    "intervals_chart",
    "heatmap_chart",
    "statechart_chart",
    "save_png",
]
