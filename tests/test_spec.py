"""The lifecycle as data (model/spec.py) and the ``model`` command of the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.cli import app
from model.lifecycle import STATES
from model.spec import DiagramUnavailable, mermaid, transition_table, write_diagram

# The 15 transitions of LIFECYCLE.md: (state, event, target) -> guard.
EXPECTED: dict[tuple[str, str, str], str] = {
    ("queued", "assign", "engaged"): "agent_is_free and before_dissuasion_deadline",
    ("queued", "customer_leave", "abandoned_queue"): "",
    ("queued", "dissuade", "dissuaded"): "dissuasion_due",
    ("engaged", "close", "completed"): "",
    ("engaged", "customer_leave", "completed"): "",
    ("engaged", "request_transfer", "transferring.routing"): "target_is_valid",
    ("transferring", "customer_leave", "abandoned_transfer"): "",
    ("transferring", "transfer_timeout", "transfer_expired"): "transfer_due and policy_abandon",
    ("transferring", "transfer_timeout", "engaged"): "transfer_due and policy_return",
    ("transferring.routing", "offer", "transferring.offered"): "agents_are_eligible",
    ("transferring.offered", "reject", "transferring.routing"): "holds_offer",
    ("transferring.offered", "offer_timeout", "transferring.routing"): "holds_offer",
    ("transferring.offered", "withdraw", "transferring.offered"): "holds_offer and others_hold_offers",
    ("transferring.offered", "withdraw", "transferring.routing"): "holds_offer",
    ("transferring.offered", "accept", "engaged"): "holds_offer and before_transfer_deadline",
}

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.requires_tool("dot", hint="Graphviz: run 'make system-deps' as root to install it")


def test_transition_table_has_exactly_the_13_transitions_of_the_lifecycle() -> None:
    table = transition_table()
    assert list(table.columns) == ["state", "event", "target", "guard", "action"]
    assert len(table) == 15
    rows = {(r.state, r.event, r.target) for r in table.itertuples()}
    assert rows == set(EXPECTED)


def test_transition_table_guards_are_as_expected() -> None:
    table = transition_table()
    guards = {(r.state, r.event, r.target): r.guard for r in table.itertuples()}
    assert guards == EXPECTED


def test_mermaid_mentions_every_state_and_the_compound() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2")
    for state in (*STATES, "transferring"):
        assert state in text, state


def test_write_diagram_writes_mermaid_text(tmp_path: Path) -> None:
    out = write_diagram(tmp_path / "sub" / "chart.mmd")
    assert out == tmp_path / "sub" / "chart.mmd"
    assert out.read_text() == mermaid()
    assert not list(tmp_path.rglob("*.part"))


def test_write_diagram_writes_mermaid_text_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    out = write_diagram(tmp_path / "chart.mmd")
    assert out.read_text() == mermaid()


@needs_dot
def test_write_diagram_draws_svg_with_graphviz(tmp_path: Path) -> None:
    out = write_diagram(tmp_path / "chart.svg")
    text = out.read_text()
    assert "<svg" in text
    assert "transfer_expired" in text or "Transfer expired" in text


@needs_dot
def test_write_diagram_draws_png_with_graphviz(tmp_path: Path) -> None:
    out = write_diagram(tmp_path / "chart.png")
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("name", ["chart.svg", "chart.png"])
def test_write_diagram_without_graphviz_raises_and_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(DiagramUnavailable, match="dot"):
        write_diagram(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["chart.jpg", "chart", "chart.txt"])
def test_write_diagram_refuses_an_unknown_suffix_without_creating_a_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="unknown diagram format"):
        write_diagram(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------


def test_cli_model_table_prints_every_transition_and_nothing_else() -> None:
    result = CliRunner().invoke(app, ["model", "--table"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 16  # header + 15 transitions
    assert lines[0].split() == ["state", "event", "target", "guard", "action"]
    rows = {tuple(line.split()[:3]) for line in lines[1:]}
    assert rows == set(EXPECTED)


def test_cli_model_without_options_prints_the_table() -> None:
    result = CliRunner().invoke(app, ["model"])
    assert result.exit_code == 0
    assert len([line for line in result.stdout.splitlines() if line.strip()]) == 16


@needs_dot
def test_cli_model_diagram_writes_the_svg(tmp_path: Path) -> None:
    target = tmp_path / "x.svg"
    result = CliRunner().invoke(app, ["model", "--diagram", str(target)])
    assert result.exit_code == 0, result.output
    assert "<svg" in target.read_text()
    assert "wrote" in result.stdout


def test_cli_model_diagram_writes_mermaid(tmp_path: Path) -> None:
    target = tmp_path / "x.mmd"
    result = CliRunner().invoke(app, ["model", "--diagram", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == mermaid()


def test_cli_model_diagram_without_graphviz_skips_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    target = tmp_path / "x.svg"
    result = CliRunner().invoke(app, ["model", "--diagram", str(target)])
    assert result.exit_code == 0
    assert "skipped" in result.stderr and "Graphviz" in result.stderr
    assert not target.exists()


def test_cli_model_diagram_with_an_unknown_suffix_fails_with_status_2(tmp_path: Path) -> None:
    target = tmp_path / "x.jpg"
    result = CliRunner().invoke(app, ["model", "--diagram", str(target)])
    assert result.exit_code == 2
    assert "unknown diagram format" in result.stderr
    assert not target.exists()
