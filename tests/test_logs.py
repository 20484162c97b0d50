"""The contact-log format (docs/logs.md): reading, cleaning messy rows (each fix counted, nothing
crashes), timestamps or seconds, column mapping, and the simulator's own log written in the format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model import simulate
from model.logs import (
    CLOCK_SKEW,
    LOG_COLUMNS,
    TRANSFER_COLUMNS,
    LogError,
    clean_log,
    contacts_log,
    parse_columns,
    read_log,
)
from model.scenario import scenario_from_dict


def rows(*items: tuple) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["contact_id", "arrived", "answered", "ended", "agent"])


def test_a_clean_log_reads_as_it_is() -> None:
    log = clean_log(rows(("a", 10, 12, 100, "ann"), ("b", 20, None, 50, None), ("c", 86400 + 30, 86400 + 31, 86400 + 90, "bob")))
    c = log.contacts
    assert list(c.contact_id) == ["a", "b", "c"]
    assert c.served.tolist() == [True, False, True]
    assert c.wait.tolist() == [2.0, 30.0, 1.0]  # an abandonment's wait runs until it left the queue
    assert c.day.tolist() == [0, 0, 1] and c.clock.tolist() == [10.0, 20.0, 30.0]
    assert (c.service == "chat").all() and log.cleaning.lines == [] and log.days == 2


def test_messy_rows_are_fixed_or_dropped_and_counted() -> None:
    raw = rows(
        ("ok", 100, 110, 400, "ann"),
        ("skew", 200, 200 - CLOCK_SKEW / 2, 500, "ann"),  # answered a moment before arriving: set right
        ("early", 300, 250, 600, "ann"),  # answered long before arriving: dropped
        ("phantom", 400, None, None, None),  # neither answered nor ended
        ("noarrival", None, 10, 20, "ann"),
        ("ok", 500, 510, 700, "ann"),  # a repeated id: the first row kept
        ("backwards", 600, 610, 605 - 10, "ann"),  # ended long before it was answered: dropped
        ("endskew", 700, 710, 709, "ann"),  # ended 1 s before it was answered: set right
        ("noagent", 800, 805, 900, None),
        ("open", 900, 910, None, "bob"),
    )
    log = clean_log(raw, source="messy.csv")
    c = log.contacts.set_index("contact_id")
    assert sorted(c.index) == ["endskew", "noagent", "ok", "open", "skew"]
    assert c.loc["skew", "answered"] == 200 and c.loc["skew", "wait"] == 0
    assert c.loc["endskew", "ended"] == 710
    assert c.loc["ok", "ended"] == 400  # the first of the repeated rows
    text = "\n".join(log.cleaning.text())
    for words in ("no arrival time", "phantom", "seen before", "before arriving; answered set to arrived",
                  "more than 2 s before arriving; dropped", "never ended", "without an agent"):
        assert words in text, words
    assert log.cleaning.rows_read == 10 and log.cleaning.dropped == 5


def test_timestamps_become_seconds_after_the_first_midnight() -> None:
    raw = pd.DataFrame({"arrived": ["2024-03-01 08:00:00", "2024-03-02T09:30:05"],
                        "answered": ["2024-03-01 08:00:20", ""], "ended": ["2024-03-01 08:05:20", "2024-03-02T09:31:05"],
                        "agent": ["ann", ""]})
    log = clean_log(raw)
    c = log.contacts
    assert c.arrived.tolist() == [8 * 3600.0, 86400 + 9.5 * 3600 + 5]
    assert c.wait.tolist() == [20.0, 60.0] and c.served.tolist() == [True, False]
    assert log.start == pd.Timestamp("2024-03-01")


def test_columns_are_mapped_from_other_names(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    pd.DataFrame({"vru_entry": [5, 9], "q_start": [10, 20], "ser_start": [12, None], "ser_exit": [70, 30],
                  "server": ["ann", None]}).to_csv(path, index=False)
    log = read_log(path, columns="arrived=q_start,answered=ser_start,ended=ser_exit,agent=server")
    assert log.contacts.arrived.tolist() == [10.0, 20.0] and log.contacts.agent.iloc[0] == "ann"
    assert parse_columns({"arrived": "x"}) == {"arrived": "x"} and parse_columns(None) == {}


@pytest.mark.parametrize(("spec", "words"), [
    ("arrived", "is not NAME=COLUMN"), ("arival=q_start", "unknown column 'arival'"), ("=x", "is not NAME=COLUMN"),
])
def test_a_bad_column_mapping_names_what_is_allowed(spec, words) -> None:
    with pytest.raises(LogError, match=words):
        parse_columns(spec)


def test_bad_files_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="no such file"):
        read_log(tmp_path / "none.csv")
    with pytest.raises(LogError, match="is a folder"):
        read_log(tmp_path)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(LogError, match="unknown file type .json; allowed: .csv"):
        read_log(tmp_path / "x.json")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(LogError, match="cannot be read as parquet"):
        read_log(bad)
    cols = tmp_path / "cols.csv"
    pd.DataFrame({"start": [1], "answered": [2], "ended": [3]}).to_csv(cols, index=False)
    with pytest.raises(LogError, match=r"missing column\(s\) arrived; the log has start, answered, ended"):
        read_log(cols)
    words = tmp_path / "words.csv"
    pd.DataFrame({"arrived": ["soon", "later"], "answered": ["x", "y"], "ended": ["z", "w"]}).to_csv(words, index=False)
    with pytest.raises(LogError, match="neither seconds nor ISO timestamps"):
        read_log(words)


def test_an_empty_log_reads_as_empty() -> None:
    log = clean_log(pd.DataFrame(columns=["arrived", "answered", "ended"]))
    assert log.contacts.empty and log.days == 0


# -- the simulator's own log -------------------------------------------------------------------------
SCENARIO = {
    "name": "logged",
    "simulation": {"horizon": "4h", "warmup": "30m", "start": "08:00", "replications": 3, "seed": 5},
    "services": [{"name": "chat", "entry_group": "front", "arrivals": {"rate_per_hour": 60},
                  "patience": {"kind": "exponential", "mean": "2m"}, "transfer_timeout": "40s"}],
    "groups": [{"name": "front", "agents": {"profile": [["00:00", 3], ["10:00", 2]]},
                "handle_time": {"kind": "exponential", "mean": "3m"},
                "transfers": [{"to": "back", "probability": 0.3}]},
               {"name": "back", "agents": 1, "handle_time": {"kind": "exponential", "mean": "4m"},
                "accept_delay": {"kind": "constant", "value": "10s"}}],
}


@pytest.fixture(scope="module")
def logged():
    return simulate(scenario_from_dict(SCENARIO), interval="1h")


def test_the_simulators_log_is_a_valid_log_with_the_same_counts(logged) -> None:
    contacts, transfers = contacts_log(logged)
    assert list(contacts.columns) == list(LOG_COLUMNS) and list(transfers.columns) == list(TRANSFER_COLUMNS)
    log = clean_log(contacts, transfers=transfers, source="sim")
    assert log.cleaning.dropped == 0
    # one replication = one day, at its clock time: every contact after the warm-up, none before
    c = log.contacts
    assert log.days == 3 and c.clock.min() >= 8.5 * 3600 and c.clock.max() < 12.5 * 3600
    counted = logged.metric("arrivals", "service", "chat")[0] * 3
    assert len(c) <= counted and len(c) >= counted - 3 * 6  # at most the few still queued at the horizon
    lost = logged.metric("abandoned_queue", "service", "chat")[0] * 3
    assert (~c.served).sum() == pytest.approx(lost, abs=0.5)
    assert set(log.transfers.outcome) <= {"accepted", "expired", "customer_left"}
    assert len(log.transfers) == pytest.approx(logged.metric("transfers_requested", "target", "back")[0] * 3, abs=3 * 2)
    assert (log.transfers.joined.notna() == (log.transfers.outcome == "accepted")).all()


def test_the_contacts_log_needs_the_event_log() -> None:
    res = simulate(scenario_from_dict(SCENARIO), keep_events=False, replications=1)
    with pytest.raises(ValueError, match="keep_events=True"):
        contacts_log(res)


def test_waits_in_the_log_are_the_simulations_waits(logged) -> None:
    contacts, _ = contacts_log(logged)
    log = clean_log(contacts)
    served = log.contacts[log.contacts.served]
    assert np.isclose(served.wait.mean(), logged.metric("wait_mean", "service", "chat")[0], rtol=0.1)
    assert not math.isnan(served.wait.mean())


def test_the_example_week_reads_with_its_messy_rows_counted() -> None:
    here = Path(__file__).resolve().parents[1] / "examples" / "logs"
    log = read_log(here / "week.csv", transfers=here / "week-transfers.csv")
    counts = {what.split(";")[0]: n for what, n, _ in log.cleaning.lines}
    assert counts == {"no arrival time": 5, "neither answered nor ended (a phantom row)": 8,
                      "a contact_id seen before": 12, "answered up to 2 s before arriving": 25,
                      "answered but never ended (open at the log's end)": 40, "answered without an agent": 15}
    assert log.days == 5 and log.start == pd.Timestamp("2026-03-02")
    assert len(log.transfers) > 500 and set(log.transfers.outcome) == {"accepted", "expired", "customer_left"}
    # the abandoners waited far less than the truth's mean patience (4 min): the bias calibration must avoid
    assert log.contacts.loc[~log.contacts.served, "wait"].mean() < 0.5 * 240
