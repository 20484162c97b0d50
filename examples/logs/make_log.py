"""Write a real-looking contact log (examples/logs/week.csv, week-transfers.csv): five working days
of a chat centre, simulated from a known "truth" scenario, with timestamps and the messy rows real
logs have (duplicates, phantom rows, clocks a second apart, answers without an agent, rows without
an arrival). The truth is `truth.toml` next to this file, so calibration can be checked against it.

Run: .venv/bin/python examples/logs/make_log.py   (the files are committed; this re-makes them)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model import simulate
from model.logs import contacts_log

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2026-03-02")  # a Monday


def stamp(seconds: pd.Series) -> pd.Series:
    return (START + pd.to_timedelta(seconds, unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S").where(seconds.notna(), "")


def main() -> None:
    result = simulate(HERE / "truth.toml")
    contacts, transfers = contacts_log(result)
    rng = np.random.default_rng(20260302)
    messy = contacts.copy()
    # clocks of two systems: some immediate answers logged a second before the arrival
    served = messy.index[messy["answered"].notna()]
    at_once = messy.index[messy["answered"] == messy["arrived"]]
    skew = rng.choice(at_once, size=25, replace=False)
    messy.loc[skew, "answered"] = messy.loc[skew, "arrived"] - 1.0
    # answers whose agent was not recorded
    messy.loc[rng.choice(served, size=15, replace=False), "agent"] = None
    # the export repeated some rows, and wrote phantom rows and rows without an arrival
    dup = messy.loc[rng.choice(messy.index, size=12, replace=False)]
    phantom = pd.DataFrame({"contact_id": [f"x{i}" for i in range(8)], "service": "chat", "group": None, "agent": None,
                            "arrived": rng.uniform(8 * 3600, 18 * 3600, 8), "answered": np.nan, "ended": np.nan})
    no_arrival = messy.loc[rng.choice(messy.index, size=5, replace=False)].assign(arrived=np.nan)
    no_arrival["contact_id"] = [f"y{i}" for i in range(5)]
    messy = pd.concat([messy, dup, phantom, no_arrival], ignore_index=True).sample(frac=1.0, random_state=7)
    messy = messy.sort_values("arrived", kind="stable", na_position="last")
    for col in ("arrived", "answered", "ended"):
        messy[col] = stamp(messy[col])
    messy.to_csv(HERE / "week.csv", index=False)
    tr = transfers.copy()
    for col in ("requested", "joined"):
        tr[col] = stamp(tr[col])
    tr.to_csv(HERE / "week-transfers.csv", index=False)
    print(f"wrote {len(messy):,} contact rows and {len(tr):,} transfers")


if __name__ == "__main__":
    main()
