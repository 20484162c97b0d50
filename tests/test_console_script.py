"""The installed ``transfer-sim`` command, run as a real process (every other CLI test calls the
Typer app in-process, which would not notice a broken entry point, a wrong interpreter line, output
that only appears through the test runner, or an exit code lost on the way out)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"
SCRIPT = Path(sys.executable).parent / "transfer-sim"  # what `pip install -e .` put beside python


def transfer_sim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"the console script is not installed at {SCRIPT} (pip install -e .)"
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_installed_command_runs_a_scenario_writes_its_results_and_refuses_bad_input(tmp_path: Path) -> None:
    spec = tomllib.loads(BASELINE.read_text())

    # run --json: one JSON object on stdout, nothing on stderr
    proc = transfer_sim("run", str(BASELINE), "--json", "-r", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"scenario", "replications", "seed", "metrics"}
    assert data["scenario"] == "baseline" and data["replications"] == 2
    assert data["seed"] == spec["simulation"]["seed"]
    m = data["metrics"]
    assert set(m) == {"overall", "by_service", "by_target", "by_group"}
    assert set(m["by_service"]) == {s["name"] for s in spec["services"]}
    assert set(m["by_group"]) == {g["name"] for g in spec["groups"]}
    assert {"billing", "tech"} <= set(m["by_target"])
    for figure in m["overall"].values():
        assert set(figure) == {"mean", "ci95"} and len(figure["ci95"]) == 2
    # figures: arrivals near the scenario's rate x horizon (240/h for 8 h), transfers made, shares in 0-1
    expected = spec["services"][0]["arrivals"]["rate_per_hour"] * 8
    arrivals = m["overall"]["arrivals"]["mean"]
    assert abs(arrivals - expected) < 5 * math.sqrt(expected / 2), (arrivals, expected)
    assert m["overall"]["transfers_requested"]["mean"] > 0
    assert m["by_target"]["billing"]["transfers_requested"]["mean"] > 0
    for where in (m["overall"], m["by_target"]["billing"], m["by_target"]["tech"]):
        tar = where["transfer_abandonment_rate"]
        assert 0 <= tar["ci95"][0] <= tar["mean"] <= tar["ci95"][1] <= 1, tar
    assert proc.stderr == ""

    # run --out DIR: the files, and the same figures (same scenario, seed and replications)
    out = tmp_path / "out"
    proc = transfer_sim("run", str(BASELINE), "-r", "2", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert {"events.parquet", "transfers.parquet", "metrics.csv", "run.json"} <= names
    assert not [n for n in names if n.startswith(".") or n.endswith(".part")]
    assert f"wrote {out}" in proc.stdout and "transfer_abandonment_rate" in proc.stdout
    csv = pd.read_csv(out / "metrics.csv")
    row = csv[(csv.scope == "overall") & (csv.metric == "transfers_requested")].iloc[0]
    assert row["mean"] == m["overall"]["transfers_requested"]["mean"]
    assert json.loads((out / "run.json").read_text())["replications"] == 2
    assert len(pd.read_parquet(out / "events.parquet")) > 1000

    # bad input: exit 2, one line on stderr starting "error:", nothing on stdout, nothing written
    missing = tmp_path / "missing.toml"
    for args in (["run", str(missing)], ["run", str(BASELINE), "-r", "0"]):
        proc = transfer_sim(*args, "--out", str(tmp_path / "never"), cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, proc.stderr)
        assert proc.stdout == ""
        assert not (tmp_path / "never").exists()
    assert "missing.toml" in transfer_sim("run", str(missing), cwd=tmp_path).stderr
