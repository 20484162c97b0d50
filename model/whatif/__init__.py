"""What-if pages: one self-contained HTML file with a slider per varied setting, every point of the
grid simulated beforehand with common random numbers (docs/whatif.md)."""

from .grid import HEADLINE_METRICS, MAX_POINTS, SCOPE_METRICS, WhatIf, WhatIfFailed, whatif

__all__ = ["HEADLINE_METRICS", "MAX_POINTS", "SCOPE_METRICS", "WhatIf", "WhatIfFailed", "whatif"]
