"""The conformance suite's file format: a versioned JSON schema, checked on load, written stably."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import TransferSimError
from ..lifecycle import TIMEOUT_POLICIES

SCHEMA = "transfer-sim/conformance-suite"
SCHEMA_VERSION = 1


class SuiteError(TransferSimError, ValueError):
    """A suite or case file that does not follow the schema (message names the place)."""


_STEP_KEYS = {"advance", "send", "expect"}
_EXPECT_KEYS = {"state", "owner", "offered", "transfer_count", "refused"}


def _is_seconds(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _validate_config(config: Mapping[str, Any], where: str) -> None:
    """A case's configuration: timeouts of 0 or more seconds (0 is due at once), a policy, and
    ``targets`` (optional: without it any target is accepted) mapping each group to a list of
    agent names, which may be empty (a group with nobody on shift is a target all the same)."""
    if config.get("on_transfer_timeout", "abandon") not in TIMEOUT_POLICIES:
        raise SuiteError(f"{where}.on_transfer_timeout: one of {', '.join(map(repr, TIMEOUT_POLICIES))}")
    if "transfer_timeout" in config and not _is_seconds(config["transfer_timeout"]):
        raise SuiteError(f"{where}.transfer_timeout: a number of seconds >= 0, got {config['transfer_timeout']!r}")
    dt = config.get("dissuasion_timeout")
    if dt is not None and not _is_seconds(dt):
        raise SuiteError(f"{where}.dissuasion_timeout: a number of seconds >= 0 or null, got {dt!r}")
    targets = config.get("targets")
    if targets is None:
        return
    if not isinstance(targets, dict):
        raise SuiteError(f"{where}.targets: an object of group name -> list of agent names")
    for name, agents in targets.items():
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            raise SuiteError(f"{where}.targets.{name}: a list of agent names (it may be empty), got {agents!r}")


def validate_suite(suite: Any) -> dict[str, Any]:
    """Check a suite (or a bare case, wrapped into a suite) against the schema; return the suite."""
    if isinstance(suite, dict) and "steps" in suite and "schema" not in suite:
        suite = {"schema": SCHEMA, "version": SCHEMA_VERSION, "cases": [suite]}
    if not isinstance(suite, dict):
        raise SuiteError("a suite is a JSON object")
    if suite.get("schema") != SCHEMA:
        raise SuiteError(f"schema: expected {SCHEMA!r}, got {suite.get('schema')!r}")
    if suite.get("version") != SCHEMA_VERSION:
        raise SuiteError(
            f"version: this toolkit reads version {SCHEMA_VERSION}, the file is version {suite.get('version')!r}"
        )
    cases = suite.get("cases")
    if not isinstance(cases, list):
        raise SuiteError("cases: expected a list")
    for i, case in enumerate(cases):
        where = f"cases[{i}]"
        if not isinstance(case, dict):
            raise SuiteError(f"{where}: expected an object")
        case.setdefault("id", f"case-{i + 1:03d}")
        if not isinstance(case.get("config"), dict):
            raise SuiteError(f"{where}.config: expected an object")
        _validate_config(case["config"], f"{where}.config")
        steps = case.get("steps")
        if not isinstance(steps, list):
            raise SuiteError(f"{where}.steps: expected a list")
        for j, step in enumerate(steps):
            sw = f"{where}.steps[{j}]"
            if not isinstance(step, dict) or len(_STEP_KEYS & step.keys()) != 1:
                raise SuiteError(f"{sw}: one of {sorted(_STEP_KEYS)} expected, got {step!r}")
            if "advance" in step:
                v = step["advance"]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise SuiteError(f"{sw}.advance: a number of seconds >= 0, got {v!r}")
            elif "send" in step:
                if not isinstance(step["send"], str):
                    raise SuiteError(f"{sw}.send: an event name")
                if not isinstance(step.get("data", {}), dict):
                    raise SuiteError(f"{sw}.data: expected an object")
            else:
                exp = step["expect"]
                if not isinstance(exp, dict) or not exp.keys() <= _EXPECT_KEYS:
                    raise SuiteError(f"{sw}.expect: an object with keys among {sorted(_EXPECT_KEYS)}")
    return suite


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read and validate a suite (or a single case) from a JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise SuiteError(f"cannot read {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise SuiteError(f"{path}: not JSON ({err})") from None
    try:
        return validate_suite(data)
    except SuiteError as err:
        raise SuiteError(f"{path}: {err}") from None


def dump_suite(suite: Mapping[str, Any], path: str | Path) -> Path:
    """Write a suite as JSON (one case per line-block; stable key order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=1) + "\n")
    return path


__all__ = ["SCHEMA", "SCHEMA_VERSION", "SuiteError", "validate_suite", "load_suite", "dump_suite"]
