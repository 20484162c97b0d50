"""``transfer-sim run`` prints each service's own figures when a scenario has several (issue 18:
per-service figures everywhere), with its priority when any service has one; one service, no block."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from model.cli import app

from helpers import SCENARIOS

runner = CliRunner()


def _block(output: str, head: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index(head) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("  "))
    return lines[start:end]


def test_a_scenario_of_several_services_prints_each_one() -> None:
    res = runner.invoke(app, ["run", str(SCENARIOS / "vip.toml"), "-r", "2"])
    assert res.exit_code == 0, res.output
    vip = _block(res.output, "service vip (priority 1)")
    standard = _block(res.output, "service standard (priority 0)")
    for block in (vip, standard):
        assert [line.split()[0] for line in block] == ["arrivals", "queue_abandonment_rate", "service_level",
                                                       "wait_mean", "transfers_requested", "transfer_abandonment_rate"]

    def wait(block: list[str]) -> float:
        return float(re.search(r"wait_mean\s+([\d.]+) s", "\n".join(block)).group(1))

    assert wait(vip) < wait(standard)  # the VIPs jump the queue


def test_one_service_prints_no_service_block() -> None:
    res = runner.invoke(app, ["run", str(SCENARIOS / "baseline.toml"), "-r", "2"])
    assert res.exit_code == 0, res.output
    assert not any(line.startswith("service ") for line in res.output.splitlines())
