"""The statechart as a chart: the Graphviz drawing, or its Mermaid text when Graphviz is missing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from matplotlib.figure import Figure

from .style import new_figure, style

__all__ = ["statechart_chart"]


def statechart_chart() -> Figure:
    """The transfer lifecycle's statechart: the Graphviz drawing when ``dot`` is installed,
    else the Mermaid text with a note saying why."""
    from ..spec import DiagramUnavailable, mermaid, write_diagram

    with style():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                png = write_diagram(Path(tmp) / "statechart.png")
            except DiagramUnavailable as err:
                text = mermaid()
                lines = text.count("\n") + 1
                fig = new_figure(9.0, max(4.0, 0.17 * lines + 1.0))
                ax = fig.add_subplot()
                ax.axis("off")
                ax.text(0.0, 1.0, text, family="monospace", fontsize=8, va="top", ha="left",
                        transform=ax.transAxes)
                ax.set_title(f"Transfer lifecycle (Mermaid text; image unavailable: {str(err).split(':')[0]}; "
                             "install Graphviz to draw it)", fontsize=10)
                return fig
            import matplotlib.image as mpimg

            img = mpimg.imread(png)
        h, w = img.shape[:2]
        scale = min(12.0 / (w / 100), 9.0 / (h / 100), 1.0)
        fig = new_figure(max(4.0, w / 100 * scale), max(3.0, h / 100 * scale + 0.5))
        ax = fig.add_subplot()
        ax.imshow(img)
        ax.axis("off")
        ax.set_title("Transfer lifecycle (statechart)")
    return fig
