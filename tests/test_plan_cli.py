"""``transfer-sim plan``: the answer first, a table, the files; one-line errors (exit 2), nothing
half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app

from test_plan import DAY3

runner = CliRunner()


def _toml(path: Path) -> Path:
    from model.planning.output import scenario_toml
    from model.scenario import scenario_from_dict

    path.write_text(scenario_toml(scenario_from_dict(json.loads(json.dumps(DAY3))), ["three hours"]))
    return path


def test_plan_prints_the_answer_and_writes_a_runnable_plan(tmp_path: Path) -> None:
    sc = _toml(tmp_path / "day3.toml")
    out = tmp_path / "plan"
    args = ["plan", str(sc), "--target", "transfer_abandonment_rate<=10%", "--scope", "target:tech",
            "--vary", "services.chat.transfer_timeout=45,120", "--agent-hour-cost", "30",
            "--lost-transfer-cost", "4", "-j", "1", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.startswith("To keep transfers to tech abandoned") and "a cost of" in first
    assert "transfers to tech abandoned" in res.output.splitlines()[2]  # the table's heading, in words
    assert (out / "plan.toml").is_file() and (out / "report.html").is_file()
    ran = runner.invoke(app, ["run", str(out / "plan.toml"), "-r", "2", "--by", "1h"])
    assert ran.exit_code == 0, ran.output
    # again into the same folder: refused without --force, replaced with it
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already holds an earlier plan" in again.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--target", "transfer_abandonment_rate<=5"], "from 0 to 1"),
    (["--target", "x<=5%"], "unknown figure 'x'"),
    (["--target", "transfer_abandonment_rate<=5%", "--scope", "a:b", "--scope", "c:d",
      "--target", "queue_abandonment_rate<=5%", "--target", "service_level>=80%"], "one per --target"),
    (["--target", "transfer_abandonment_rate<=5%", "--hours", "late"], "HH:MM-HH:MM"),
    (["--target", "transfer_abandonment_rate<=5%", "--vary", "nope"], "--vary"),
    (["--target", "transfer_abandonment_rate<=5%", "--by", "7m"], "by:"),
    (["--target", "transfer_abandonment_rate<=5%", "-r", "1"], "at least 2"),
])
def test_bad_plans_exit_2_with_one_line_and_write_nothing(tmp_path: Path, extra: list[str], message: str) -> None:
    sc = _toml(tmp_path / "day3.toml")
    out = tmp_path / "plan"
    res = runner.invoke(app, ["plan", str(sc), *extra, "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.output
    assert not out.exists()


def test_a_folder_of_other_things_is_refused(tmp_path: Path) -> None:
    sc = _toml(tmp_path / "day3.toml")
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = runner.invoke(app, ["plan", str(sc), "--target", "transfer_abandonment_rate<=10%", "--out", str(out)])
    assert res.exit_code == 2 and "new or empty folder" in res.output
    assert (out / "notes.txt").read_text() == "mine"
