"""`--report` on sweep and tune writes the HTML report beside the results."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from model.cli import app

runner = CliRunner()


def small_file(tmp_path: Path) -> Path:
    text = Path("scenarios/baseline.toml").read_text()
    path = tmp_path / "baseline.toml"
    path.write_text(text.replace('horizon = "8h"', 'horizon = "1h"').replace('warmup = "30m"', 'warmup = "10m"'))
    return path


def test_sweep_report_opens_with_the_answer_and_embeds_the_sweep_chart(tmp_path):
    out = tmp_path / "sweep"
    res = runner.invoke(app, [
        "sweep", str(small_file(tmp_path)), "--vary", "services.support.transfer_timeout=30,90",
        "-r", "2", "--executor", "serial", "--out", str(out), "--report", "--target", "0.1", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    html = (out / "index.html").read_text()
    assert "transfers to billing" in html and "data:image/png;base64," in html
    assert (out / "sweep.png").exists()


def test_tune_report_shows_the_explored_curve(tmp_path):
    out = tmp_path / "tune"
    res = runner.invoke(app, [
        "tune", str(small_file(tmp_path)), "--metric", "transfer_abandonment_rate", "--target", "0.9",
        "--param", "services.support.transfer_timeout", "--range", "10..60", "--grid", "3", "-r", "2",
        "--executor", "serial", "--out", str(out), "--report", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    assert "recommended" in res.output
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html
