"""The validation table as people read it: text next to the verdicts, a chart, files on disk.

Why apart from :mod:`model.validation`: that module defines the grid and runs it; this one only
formats the frame :func:`model.validation.validate` returns (importable from there too).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["format_table", "plot", "write"]


def format_table(df: pd.DataFrame) -> str:
    """The validation table as text: parameters, analytic, simulated mean and CI, verdict."""
    def fmt(x: Any) -> str:
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"

    out = pd.DataFrame({
        "stage": df["stage"],
        "case": df["case"],
        "regime": df["regime"],
        "n": df["n"],
        "lam": df["lam"].map(fmt),
        "mu": df["mu"].map(fmt),
        "theta": df["theta"].map(fmt),
        "D": df["timeout"].map(fmt),
        "rho": (df["lam"] / (df["n"] * df["mu"])).map(lambda x: f"{x:.2f}"),
        "analytic": df["analytic"].map(lambda x: f"{x:.5f}"),
        "sim_mean": df["sim_mean"].map(lambda x: f"{x:.5f}"),
        "99% CI": [f"[{lo:.5f}, {hi:.5f}]" for lo, hi in zip(df["ci_low"], df["ci_high"])],
        "half_width": df["half_width"].map(lambda x: f"{x:.5f}"),
        "verdict": df["verdict"],
    })
    return out.to_string(index=False)


def plot(df: pd.DataFrame) -> Figure:
    """A matplotlib Figure: analytic (marker) vs simulated mean with its 99 % CI (error bar), per case."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    stages = [s for s in ("queue", "transfer", "priority") if s in set(df["stage"])] or sorted(set(df["stage"]))
    fig, axes = plt.subplots(len(stages), 1, figsize=(10, 3.6 * len(stages)), squeeze=False)
    titles = {"queue": "queue stage: Erlang A, P(abandon) = queue_abandonment_rate",
              "transfer": "transfer stage: M/M/n+D and M/M/n+(D,exp), transfer_abandonment_rate",
              "priority": "priority stage: Cobham's non-preemptive priority M/M/n, wait_mean per service (minutes)"}
    for ax, stage in zip(axes[:, 0], stages):
        d = df[df["stage"] == stage].reset_index(drop=True)
        x = range(len(d))
        # plain arrays: matplotlib calls float() on a one-row Series, which pandas deprecates
        err = [(d["sim_mean"] - d["ci_low"]).to_numpy(), (d["ci_high"] - d["sim_mean"]).to_numpy()]
        ax.errorbar([i + 0.1 for i in x], d["sim_mean"].to_numpy(), yerr=err, fmt="o", capsize=4, color="tab:blue",
                    label="simulated mean, 99 % CI")
        ax.scatter([i - 0.1 for i in x], d["analytic"], marker="x", s=60, color="tab:red", zorder=3,
                   label="analytic")
        for i, v in enumerate(d["verdict"]):
            if v != "pass":
                ax.annotate("FAIL", (i, d["sim_mean"][i]), color="red", xytext=(5, 5), textcoords="offset points")
        ax.set_xticks(list(x))
        ax.set_xticklabels(d["case"], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("mean wait (min)" if stage == "priority" else "P(abandon)")
        ax.set_title(titles.get(stage, stage), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write(df: pd.DataFrame, directory: str | os.PathLike[str]) -> list[str]:
    """Write ``validation.csv`` and ``validation.png`` into ``directory``; returns the paths."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    csv = d / "validation.csv"
    df.to_csv(csv, index=False)
    fig = plot(df)
    png = d / "validation.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return [str(csv), str(png)]
