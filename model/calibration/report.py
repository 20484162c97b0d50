"""The calibration page: each fit against its data, as one self-contained HTML file.

Why: a supervisor should see, before trusting a calibrated scenario, that the arrival profile,
handle times, patience curves and staffing look like the log. PNGs (the charts' one style) are
embedded as base64 so the page travels as a single file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..charts.style import colour, new_figure, style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .scenario import Calibration

__all__ = ["write_report", "arrivals_chart", "handle_time_chart", "km_chart", "staffing_chart"]


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def arrivals_chart(cal: Calibration, service: str) -> Figure:
    """Contacts per hour per interval, as written, with their 95 % Poisson intervals."""
    a = cal.arrivals[cal.arrivals["service"] == service]
    with style():
        fig = new_figure(8, 3.6)
        ax = fig.add_subplot()
        x = a["interval"].to_numpy()
        ax.bar(x, a["rate_per_hour"].fillna(0), color=colour(0), alpha=0.7, label="log: contacts per hour")
        ax.errorbar(x, a["rate_per_hour"], yerr=[a["rate_per_hour"] - a["low"], a["high"] - a["rate_per_hour"]],
                    fmt="none", color=colour(7), lw=1, label="95 % (Poisson)")
        ax.set_xticks(x[:: max(1, len(x) // 12)], a["start"].to_numpy()[:: max(1, len(x) // 12)])
        ax.set_xlabel("interval of the clock")
        ax.set_ylabel("contacts per hour")
        ax.set_title(f"arrivals: {service}")
        ax.legend()
    return fig


def handle_time_chart(cal: Calibration, key: str) -> Figure:
    """The handle times of one group (``key`` = ``"handle_time GROUP"``): histogram and fitted densities."""
    fit = cal.fits[key]
    with style():
        fig = new_figure(6, 3.6)
        ax = fig.add_subplot()
        x = fit.values if fit.values is not None else np.array([])
        top = float(np.quantile(x, 0.99)) if len(x) else 1.0
        ax.hist(x[x <= top], bins=50, density=True, color=colour(0), alpha=0.6, label=f"log (n = {fit.n})")
        grid = np.linspace(top / 500, top, 400)
        for i, c in enumerate(sorted(fit.candidates, key=lambda c: c.aic)[:2]):
            ax.plot(grid, c.pdf(grid), color=colour(i + 1), label=f"{c.kind} (AIC {c.aic:.0f})")
        ax.set_xlabel("seconds")
        ax.set_ylabel("density")
        ax.set_title(key.replace("_", " "))
        ax.legend()
    return fig


def km_chart(cal: Calibration, key: str) -> Figure:
    """A Kaplan-Meier curve (``key`` = ``"patience SERVICE"``) with its band and the fitted survival."""
    km, fit = cal.km[key], cal.fits[key]
    with style():
        fig = new_figure(6, 3.6)
        ax = fig.add_subplot()
        ax.step(km.timeline, km.survival, where="post", color=colour(0), label=f"Kaplan-Meier ({km.events} of {km.n} left)")
        ax.fill_between(km.timeline, km.lower, km.upper, step="post", color=colour(0), alpha=0.2, label="95 % band")
        if fit.chosen is not None and fit.best is not None:
            c = fit.candidate(fit.best)
            t = np.linspace(0, float(km.timeline.max()) or 1.0, 400)
            ax.plot(t, c.survival(t), color=colour(5), label=f"{c.kind} fit (censored MLE)")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("seconds")
        ax.set_ylabel("P(still waiting)")
        ax.set_title(key.replace("_", " "))
        ax.legend()
    return fig


def staffing_chart(cal: Calibration, group: str) -> Figure:
    """One group's staffing per interval: the estimate, the figures kept for comparison, the number written."""
    s = cal.staffing[cal.staffing["group"] == group]
    with style():
        fig = new_figure(8, 3.6)
        ax = fig.add_subplot()
        x = s["interval"].to_numpy()
        ax.step(x, s["written"], where="post", color=colour(7), label="written")
        ax.plot(x, s["present_agents"] + s["unnamed_agents"], "o-", color=colour(0), label="present (estimate)")
        ax.plot(x, s["busy_agents"], ".--", color=colour(2), label="busy (holding a chat)")
        ax.plot(x, s["seen_agents"], ".:", color=colour(5), label="distinct agents seen")
        ax.set_xticks(x[:: max(1, len(x) // 12)], s["start"].to_numpy()[:: max(1, len(x) // 12)])
        ax.set_xlabel("interval of the clock")
        ax.set_ylabel("agents")
        ax.set_title(f"staffing: {group}")
        ax.legend()
    return fig


def write_report(cal: Calibration, folder: str | os.PathLike[str]) -> Path:
    """Write ``calibration.html`` in ``folder`` (created) and return its path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    parts = ["<!doctype html><meta charset='utf-8'><title>calibration</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:auto}img{max-width:100%}"
             "pre{white-space:pre-wrap;font-size:85%}</style>",
             f"<h1>Calibration of {html.escape(cal.log.source or 'a log')}</h1>",
             f"<p>{len(cal.log.contacts):,} contacts over {cal.log.days} day(s). Estimators: docs/calibrate.md.</p>"]
    lines = cal.log.cleaning.text() + cal.notes
    if lines:
        parts.append("<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in lines) + "</ul>")
    sections: list[tuple[str, list[Figure]]] = [
        ("Arrivals per interval", [arrivals_chart(cal, s) for s in sorted(cal.arrivals["service"].unique())]),
        ("Handle time", [handle_time_chart(cal, k) for k in cal.fits if k.startswith("handle_time ")]),
        ("Patience (Kaplan-Meier, served waits censored)", [km_chart(cal, k) for k in cal.km]),
        ("Staffing per interval", [staffing_chart(cal, g) for g in sorted(cal.staffing["group"].unique())]),
    ]
    for title, figs in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts += [f"<img alt='{html.escape(title)}' src='data:image/png;base64,{_png(f)}'>" for f in figs]
    parts.append("<h2>The scenario written</h2><pre>" + html.escape(cal.toml()) + "</pre>")
    path = out / "calibration.html"
    from ..results.result import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(parts), encoding="utf-8"))
    return path
