"""``transfer-sim calibrate``: the scenario written atomically, a summary, one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.scenario import load_scenario

from test_calibrate import synthetic_log

runner = CliRunner()


@pytest.fixture()
def log_csv(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    synthetic_log().to_csv(path, index=False)
    return path


def test_calibrate_writes_a_loadable_scenario_a_summary_and_a_report(log_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scenario.toml"
    res = runner.invoke(app, ["calibrate", str(log_csv), "--out", str(out), "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "handle_time g: lognormal" in res.output and f"wrote {out}" in res.output
    sc = load_scenario(out)
    assert sc.group("g").handle_time.kind == "lognormal"
    page = (tmp_path / "rep" / "calibration.html").read_text()
    assert page.count("data:image/png") >= 4 and "Kaplan-Meier" in page


@pytest.mark.parametrize(("args", "message"), [
    (["--interval", "7m"], "interval"),
    (["--columns", "arrived"], "is not NAME=COLUMN"),
    (["--columns", "bogus=x"], "unknown column 'bogus'"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(log_csv: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "scenario.toml"
    res = runner.invoke(app, ["calibrate", str(log_csv), "--out", str(out), *args])
    assert res.exit_code == 2
    assert message in res.output and res.output.count("error:") == 1
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_a_missing_log_and_an_existing_out_are_refused(log_csv: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["calibrate", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.toml")])
    assert res.exit_code == 2 and "no such file" in res.output
    out = tmp_path / "s.toml"
    out.write_text("keep me")
    res = runner.invoke(app, ["calibrate", str(log_csv), "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output and out.read_text() == "keep me"
    res = runner.invoke(app, ["calibrate", str(log_csv), "--out", str(out), "--force"])
    assert res.exit_code == 0 and out.read_text().startswith("# Calibrated")


def test_a_log_with_nothing_answered_is_refused_with_the_reason(tmp_path: Path) -> None:
    frame = synthetic_log()
    frame["answered"] = None
    frame["ended"] = frame["arrived"] + 20
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    res = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "s.toml")])
    assert res.exit_code == 2 and "no contact was answered" in res.output
    assert not (tmp_path / "s.toml").exists()
