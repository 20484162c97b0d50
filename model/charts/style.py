"""The one style of every chart: the Okabe-Ito palette, readable sizes, PNG output.

Why: the report, notebooks and the CLI draw the same pictures with the same look. Figures are built
with :class:`matplotlib.figure.Figure` (not ``pyplot``), so building many of them in a loop leaks
nothing and works without a display; in a notebook the returned figure displays itself.
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and "matplotlib.pyplot" not in sys.modules and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")

from matplotlib.figure import Figure

__all__ = ["PALETTE", "style", "new_figure", "colour", "save_png"]

#: Okabe & Ito (2008), safe for the common colour-vision deficiencies; the one palette of all charts.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)

TARGET_COLOUR = PALETTE[5]
"""A target line (vermillion)."""
MARK_COLOUR = PALETTE[7]
"""A marked setting or a timeout line (black)."""

_RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
}


def style() -> AbstractContextManager[None]:
    """The chart style as a context manager: ``with style(): ...`` (every chart function uses it)."""
    return matplotlib.rc_context(_RC)


def new_figure(w: float = 8.0, h: float = 4.8) -> Figure:
    """An empty figure of ``w`` x ``h`` inches, laid out so labels never overlap."""
    return Figure(figsize=(w, h), layout="constrained")


def colour(i: int) -> str:
    """The ``i``-th colour of the palette (wrapping round)."""
    return PALETTE[i % len(PALETTE)]


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG (parents created) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(p, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return p
