"""A corpus of malformed scenario files: each must give ONE error line and exit status 2, never a traceback.

Two sources:

* **generated**: the bundled scenarios (``scenarios/*.toml``) mutated field by field. For every field
  of every table (present or optional) each mutation is one that the format refuses: a wrong type,
  a boolean or a string for a number, a float for an integer, negative or zero where that makes no
  sense, nan and inf, values whose derived quantities overflow, a missing required field, an
  unknown extra key, an empty string, a reference to an unknown name, a table where an array of
  tables belongs, duplicates, probability sums over 1, endless transfer cycles. Only mutations
  known to be invalid are generated; the test loads each one first and fails if it loads, so a
  valid mutation can never be counted as malformed.
* **hand-written**: ``tests/bad_scenarios/*.toml`` (each may start with ``# expect: TEXT``, text
  the message must contain), plus a missing file, a directory, a binary and a UTF-16 file.

Every case runs in-process through ``transfer-sim run`` (click's ``CliRunner`` on the command
``typer.main.get_command(model.cli.app)``, which is what the console script runs); a sample of 15
also runs as real subprocesses of the installed console script.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import CliRunner

from model.cli import app
from model.scenario import ScenarioError, load_scenario

from helpers import BUNDLED, ROOT, SCENARIOS

HAND_WRITTEN = ROOT / "tests" / "bad_scenarios"
#: the corpus must hold at least this many generated files
MIN_GENERATED = 200
SUBPROCESS_SAMPLE = 15
TIMEOUT = 30.0

# -- a small TOML writer (inline form: every top-level key on one line) ------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value (tables inline, floats with nan/inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def toml_text(data: dict[str, Any]) -> str:
    return "".join(f"{_key(k)} = {toml_value(v)}\n" for k, v in data.items())


# -- what each field is, and values it must refuse -------------------------------------------------

NAN, INF = math.nan, math.inf
TOO_BIG_INT = 2**63  # beyond TOML's 64-bit integers
HUGE_INT = 10**400  # no float holds it

#: kind -> [(label, bad value)]; every value is invalid for every field of that kind
BAD_VALUES: dict[str, list[tuple[str, Any]]] = {
    "int1": [("bool", True), ("false", False), ("float", 2.0), ("fraction", 2.5), ("string", "3"),
             ("empty", ""), ("negative", -1), ("zero", 0), ("nan", NAN), ("inf", INF),
             ("too-big", TOO_BIG_INT), ("list", [1]), ("table", {"a": 1})],
    "int0": [("bool", True), ("float", 2.0), ("string", "3"), ("empty", ""), ("negative", -1),
             ("nan", NAN), ("inf", INF), ("too-big", TOO_BIG_INT), ("list", [1])],
    "prob": [("bool", True), ("string", "0.5"), ("empty", ""), ("negative", -0.1), ("above-one", 1.5),
             ("nan", NAN), ("inf", INF), ("minus-inf", -INF), ("huge", 1e300), ("list", [0.5])],
    "cv": [("bool", True), ("string", "0.5"), ("empty", ""), ("negative", -1), ("zero", 0), ("nan", NAN),
           ("inf", INF), ("underflow", 1e-300), ("overflow", 1e300), ("list", [1])],
    "rate": [("bool", True), ("string", "240"), ("empty", ""), ("negative", -1), ("zero", 0), ("nan", NAN),
             ("inf", INF), ("underflow", 1e-320), ("overflow", 1e308), ("list", [1])],
    "duration": [("bool", True), ("zero", 0), ("negative", -5), ("zero-text", "0s"), ("negative-text", "-5m"),
                 ("bad-unit", "5x"), ("empty", ""), ("arabic-digits", "٦٠٠"), ("exponent", "1e3s"),
                 ("nan", NAN), ("inf", INF), ("minus-inf", -INF), ("overflow-text", "9" * 400 + "s"),
                 ("overflow-int", HUGE_INT), ("list", [60]), ("table", {"a": 1})],
    "duration0": [("bool", True), ("negative", -1), ("negative-text", "-5m"), ("bad-unit", "5x"),
                  ("empty", ""), ("arabic-digits", "٦٠"), ("nan", NAN), ("inf", INF), ("list", [0])],
    "clock": [("hour-24", "24:00"), ("one-digit", "7:00"), ("minute-60", "08:60"), ("empty", ""),
              ("arabic-digits", "٠٨:٠٠"), ("int", 700), ("bool", True), ("seconds", "08:00:00")],
    "name": [("empty", ""), ("blank", "  "), ("dot", "a.b"), ("colon", "a:b"), ("bracket", "x[1]"),
             ("int", 5), ("bool", True), ("list", ["a"])],
    "group_ref": [("unknown", "nosuch"), ("empty", ""), ("int", 5), ("bool", True)],
    "target": [("unknown", "nosuch"), ("unknown-agent", "agent:nobody"), ("empty", ""), ("bare-prefix", "agent:"),
               ("int", 5), ("bool", True)],
    "text": [("int", 5), ("bool", True), ("list", ["a"]), ("table", {"a": 1})],
    "shifts": [("empty", []), ("string", "08:00-16:00"), ("table", {"a": 1}), ("flat", ["08:00-16:00"]),
               ("short", [["08:00"]]), ("long", [["08:00", "12:00", "16:00"]]), ("empty-shift", [["08:00", "08:00"]]),
               ("overlap", [["08:00", "12:00"], ["11:00", "13:00"]]),
               ("overlap-midnight", [["22:00", "02:00"], ["01:00", "03:00"]]), ("clock-bad", [["08:00", "24:00"]]),
               ("int", [[800, "16:00"]])],
    "real": [("bool", True), ("string", "5"), ("empty", ""), ("nan", NAN), ("inf", INF), ("list", [1]),
             ("overflow", 1e300)],
    "sigma": [("bool", True), ("string", "0.5"), ("empty", ""), ("negative", -1), ("zero", 0), ("nan", NAN),
              ("inf", INF), ("overflow", 1e300), ("list", [1])],
    "value_list": [("empty", []), ("one", [5]), ("negative", [-1, 2]), ("all-zero", [0, 0]), ("string", "5"),
                   ("string-item", ["a", 2]), ("nan", [NAN, 1]), ("inf", [1, INF]), ("bool", [True, 2]),
                   ("duration-item", ["5s", 9]), ("table", {"a": 1})],
    "group_list": [("empty", []), ("string", "billing"), ("unknown", ["nosuch"]), ("int-item", [5]),
                   ("table", {"a": 1})],
}
#: a choice field -> its allowed values (the wrong ones are derived from them)
CHOICES = {
    "routing": ["longest_idle", "least_busy", "round_robin", "random"],
    "offer_mode": ["sequential", "broadcast"],
    "on_transfer_timeout": ["abandon", "return"],
}
SIMULATION = {"horizon": "duration", "warmup": "duration0", "replications": "int1", "seed": "int0",
              "start": "clock"}
SERVICE = {"name": "name", "entry_group": "group_ref", "transfer_timeout": "duration0",
           "dissuasion_timeout": "duration0", "on_transfer_timeout": "choice", "service_level_threshold": "duration0"}
GROUP = {"name": "name", "agents": "int0", "max_concurrent": "int1", "routing": "choice",
         "offer_mode": "choice", "reject_probability": "prob", "offer_timeout": "duration"}
RULE = {"to": "target", "probability": "prob", "message": "text"}
AGENT = {"name": "name", "groups": "group_list", "max_concurrent": "int1", "shifts": "shifts"}
DIST_FIELDS = {
    "exponential": {"mean": "duration"},
    "constant": {"value": "duration"},
    "deterministic": {"value": "duration"},
    "lognormal": {"mean": "duration", "cv": "cv"},
    "gamma": {"mean": "duration", "cv": "cv"},
    "uniform": {"low": "duration0", "high": "duration"},
    "erlang": {"mean": "duration", "k": "int1"},
    "lognormal-native": {"mu": "real", "sigma": "sigma"},
    "empirical": {"values": "value_list"},
}
REQUIRED = {
    "simulation": ["horizon"],
    "service": ["name", "entry_group", "arrivals"],
    "group": ["name", "handle_time"],
    "rule": ["to", "probability"],
    "agent": ["name", "groups"],
}
NOT_A_TABLE = [("int", 5), ("string", "5m"), ("list", [1]), ("bool", True)]


class Case:
    """One malformed scenario: a label, its text (or bytes) and optionally text the message must hold."""

    def __init__(self, label: str, content: str | bytes, expect: str | None = None) -> None:
        self.label = re.sub(r"[^A-Za-z0-9._-]+", "_", label)
        self.content = content
        self.expect = expect


def _choice_bad(field: str) -> list[tuple[str, Any]]:
    first = CHOICES[field][0]
    return [("empty", ""), ("unknown", "bogus"), ("int", 1), ("bool", True), ("upper-case", first.upper())]


def _agents_of(data: dict[str, Any], group: str) -> int:
    named = sum(group in a.get("groups", []) for a in data.get("agents", []))
    g = next(g for g in data["groups"] if g["name"] == group)
    agents = g.get("agents", 0)
    return (max(n for _, n in agents["profile"]) if isinstance(agents, dict) else int(agents)) + named


def _mutate_fields(where: str, table: dict[str, Any], fields: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """(label, table) for each bad value of each field of ``table`` (present or not)."""
    for field, kind in fields.items():
        bad = _choice_bad(field) if kind == "choice" else BAD_VALUES[kind]
        for label, value in bad:
            new = dict(table)
            new[field] = copy.deepcopy(value)
            yield f"{where}.{field}-{label}", new


def _mutate_table(where: str, table: dict[str, Any], kind: str) -> Iterator[tuple[str, Any]]:
    """Structural mutations of a table: an unknown key, each required key removed, not a table."""
    yield f"{where}-unknown-key", {**table, "bogus_field": 1}
    for key in REQUIRED.get(kind, []):
        yield f"{where}-missing-{key}", {k: v for k, v in table.items() if k != key}
    for label, value in NOT_A_TABLE:
        yield f"{where}-not-a-table-{label}", value


def _mutate_distribution(where: str, dist: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    fields = DIST_FIELDS["lognormal-native" if "mu" in dist else dist["kind"]]
    yield from _mutate_fields(where, dist, fields)
    yield f"{where}-unknown-kind", {**dist, "kind": "weibull"}
    yield f"{where}-kind-int", {**dist, "kind": 5}
    yield f"{where}-missing-kind", {k: v for k, v in dist.items() if k != "kind"}
    yield f"{where}-unknown-key", {**dist, "shape": 1}
    for field in fields:
        yield f"{where}-missing-{field}", {k: v for k, v in dist.items() if k != field}
    for label, value in NOT_A_TABLE:
        yield f"{where}-not-a-table-{label}", value


def _mutate_arrivals(where: str, arr: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield f"{where}-unknown-key", {**arr, "bogus_field": 1}
    yield f"{where}.kind-unknown", {**arr, "kind": "bursty"}
    yield f"{where}.kind-bool", {**arr, "kind": True}
    yield f"{where}-no-source", {k: v for k, v in arr.items() if k not in ("rate_per_hour", "profile")}
    for label, value in NOT_A_TABLE:
        yield f"{where}-not-a-table-{label}", value
    if "profile" in arr:
        yield f"{where}-both-sources", {**arr, "rate_per_hour": 60}
        yield f"{where}-constant-with-profile", {**arr, "kind": "constant"}
        profile = arr["profile"]
        for label, value in [("table", {"a": 1}), ("empty", []), ("string", "x"), ("overflow", [["00:00", 1e308]]),
                             ("all-zero", [["00:00", 0], ["12:00", 0]])]:
            yield f"{where}.profile-{label}", {**arr, "profile": value}
        if len(profile) > 1:
            yield f"{where}.profile-unsorted", {**arr, "profile": [profile[1], profile[0], *profile[2:]]}
        entry = profile[-1]
        for label, bad in [("short", [entry[0]]), ("long", [*entry, 1]),
                           ("table", {"a": 1}), ("rate-negative", [entry[0], -1]), ("rate-string", [entry[0], "5"]),
                           ("rate-bool", [entry[0], True]), ("rate-nan", [entry[0], NAN]),
                           ("rate-inf", [entry[0], INF]), ("clock-bad", ["25:00", entry[1]])]:
            yield f"{where}.profile-entry-{label}", {**arr, "profile": [*profile[:-1], bad]}
    else:
        for label, value in BAD_VALUES["rate"]:
            yield f"{where}.rate_per_hour-{label}", {**arr, "rate_per_hour": copy.deepcopy(value)}


def generated_cases() -> list[Case]:
    """Every mutation of every bundled scenario (each invalid by construction)."""
    cases: list[Case] = []
    seen: set[str] = set()
    for path in BUNDLED:
        base = tomllib.loads(path.read_text())
        stem = path.stem

        def emit(label: str, data: dict[str, Any], expect: str | None = None) -> None:
            if label in seen:  # the same mutation of the same field in an earlier file: no news
                return
            seen.add(label)
            cases.append(Case(f"{stem}--{label}", toml_text(data), expect))

        def with_item(section: str, i: int, item: Any) -> dict[str, Any]:
            data = copy.deepcopy(base)
            data[section][i] = item
            return data

        # top level
        emit("top-unknown-key", {**base, "bogus_section": 1}, "unknown field")
        emit("top-name-int", {**base, "name": 5})
        for section in ("simulation", "services", "groups"):
            emit(f"top-missing-{section}", {k: v for k, v in base.items() if k != section}, "required")
        for section in ("services", "groups", "agents"):
            items = base.get(section) or [{"name": "x", "groups": ["nosuch"]}]
            emit(f"{section}-as-table", {**base, section: items[0]},
                 f"{section} must be an array of tables ([[{section}]]), got a table")
            emit(f"{section}-as-string", {**base, section: "x"}, "must be an array of tables")
        for section in ("services", "groups"):
            emit(f"{section}-empty", {**base, section: []})
        emit("simulation-as-array", {**base, "simulation": [base["simulation"]]}, "expected a table")

        # [simulation]
        sim = base["simulation"]
        for label, new in [*_mutate_fields("simulation", sim, SIMULATION), *_mutate_table("simulation", sim, "simulation")]:
            emit(label, {**base, "simulation": new})
        emit("simulation-end-overflows", {**base, "simulation": {**sim, "horizon": 1e308, "warmup": 1e308}}, "overflows")

        # [[services]]
        for i, svc in enumerate(base["services"]):
            where = f"services.{svc['name']}"
            muts = [*_mutate_fields(where, svc, SERVICE), *_mutate_table(where, svc, "service"),
                    *((lab, {**svc, "arrivals": a}) for lab, a in _mutate_arrivals(f"{where}.arrivals", svc["arrivals"]))]
            for field in ("patience", "transfer_patience"):
                dist = svc.get(field) or {"kind": "exponential", "mean": "3m"}
                muts += [(lab, {**svc, field: d}) for lab, d in _mutate_distribution(f"{where}.{field}", dist)]
            for label, new in muts:
                emit(label, with_item("services", i, new))
            emit(f"{where}-duplicate", {**base, "services": [*base["services"], svc]}, "duplicate service name")

        # [[groups]]
        groups = [g["name"] for g in base["groups"]]
        for i, grp in enumerate(base["groups"]):
            where = f"groups.{grp['name']}"
            muts = [*_mutate_fields(where, grp, GROUP), *_mutate_table(where, grp, "group")]
            for field in ("handle_time", "accept_delay"):
                dist = grp.get(field) or {"kind": "lognormal", "mean": "12s", "cv": 1.0}
                muts += [(lab, {**grp, field: d}) for lab, d in _mutate_distribution(f"{where}.{field}", dist)]
            rules = grp.get("transfers") or [{"to": groups[0], "probability": 0.1}]
            muts += [(f"{where}.transfers-as-table", {**grp, "transfers": rules[0]}),
                     (f"{where}.transfers-as-string", {**grp, "transfers": "billing"})]
            for j, rule in enumerate(rules):
                rwhere = f"{where}.transfers[{j}]"
                for label, new in [*_mutate_fields(rwhere, rule, RULE), *_mutate_table(rwhere, rule, "rule")]:
                    muts.append((label, {**grp, "transfers": [*rules[:j], new, *rules[j + 1 :]]}))
            if len(rules) > 1:
                over = [{**r, "probability": 0.99} for r in rules]
                muts.append((f"{where}.transfers-sum-over-one", {**grp, "transfers": over}))
            muts.append((f"{where}.transfers-self-always", {**grp, "transfers": [{"to": grp["name"], "probability": 1}]}))
            muts.append((f"{where}.transfers-self-split", {**grp, "transfers": [{"to": grp["name"], "probability": 0.5},
                                                                                {"to": grp["name"], "probability": 0.5}]}))
            for label, new in muts:
                expect = "endless transfers" if label.endswith("self-split") else None
                emit(label, with_item("groups", i, new), expect)
            profile = grp["agents"]["profile"] if isinstance(grp.get("agents"), dict) else [["00:00", 2], ["12:00", 1]]
            for label, value in [("table", {"a": 1}), ("empty", []), ("string", "x"), ("unsorted", profile[::-1]),
                                 ("duplicate-time", [profile[0], profile[0]]), ("entry-short", [[profile[0][0]]]),
                                 ("entry-long", [[*profile[0], 1]]), ("count-negative", [[profile[0][0], -1]]),
                                 ("count-float", [[profile[0][0], 1.5]]), ("count-bool", [[profile[0][0], True]]),
                                 ("count-string", [[profile[0][0], "3"]]), ("clock-bad", [["24:00", 1]])]:
                if label == "unsorted" and len(profile) < 2:
                    continue
                muts.append((f"{where}.agents.profile-{label}", {**grp, "agents": {"profile": value}}))
            muts.append((f"{where}.agents-unknown-key", {**grp, "agents": {"profile": profile, "bogus_field": 1}}))
            if _agents_of(base, grp["name"]) == grp.get("agents", 0):
                emit(f"{where}-no-agents", with_item("groups", i, {**grp, "agents": 0}), "no agent")
            emit(f"{where}-duplicate", {**base, "groups": [*base["groups"], grp]}, "duplicate group name")
        # an endless cycle through each pair of groups
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                data = copy.deepcopy(base)
                data["groups"][a]["transfers"] = [{"to": groups[b], "probability": 1.0}]
                data["groups"][b]["transfers"] = [{"to": groups[a], "probability": 0.25},
                                                  {"to": groups[b], "probability": 0.75}]
                emit(f"cycle-{groups[a]}-{groups[b]}", data, f"'{groups[a]}' -> '{groups[b]}' -> '{groups[a]}'")

        # [[agents]]
        for i, agent in enumerate(base.get("agents", [])):
            where = f"agents.{agent['name']}"
            for label, new in [*_mutate_fields(where, agent, AGENT), *_mutate_table(where, agent, "agent")]:
                emit(label, with_item("agents", i, new))
            emit(f"{where}-duplicate", {**base, "agents": [*base["agents"], agent]}, "duplicate agent name")
            emit(f"{where}-repeated-group", with_item("agents", i, {**agent, "groups": [*agent["groups"], agent["groups"][0]]}),
                 "group listed twice")
            first = base["groups"][0]["name"]
            renamed = with_item("agents", i, {**agent, "name": f"{first}-1"})
            for g in renamed["groups"]:  # keep transfers to the agent pointing at it: one problem only
                for r in g.get("transfers", []):
                    if r["to"] == f"agent:{agent['name']}":
                        r["to"] = f"agent:{first}-1"
            emit(f"{where}-anonymous-name", renamed, "anonymous")
            # the agent's first group always transfers to the agent: the agent closes, so it completes;
            # but always transferring to the agent from a group it is not in, and back, never completes
            home = agent["groups"][0]
            other = next((g for g in groups if g not in agent["groups"]), None)
            if other is not None:
                data = copy.deepcopy(base)
                for g in data["groups"]:
                    if g["name"] == other:
                        g["transfers"] = [{"to": f"agent:{agent['name']}", "probability": 1.0}]
                    if g["name"] == home:
                        g["transfers"] = [{"to": other, "probability": 1.0}]
                emit(f"{where}-cycle-through-agent", data, "endless transfers")
    return cases


def hand_written_cases(tmp: Path) -> list[tuple[str, Path, str | None]]:
    """(label, path, expected text) for tests/bad_scenarios/ and the cases that are not TOML text."""
    out = []
    for path in sorted(HAND_WRITTEN.glob("*.toml")):
        first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")
        expect = first.removeprefix("# expect:").strip() if first.startswith("# expect:") else None
        out.append((path.stem, path, expect))
    binary = tmp / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    utf16 = tmp / "utf16.toml"
    utf16.write_bytes((SCENARIOS / "baseline.toml").read_text().encode("utf-16"))
    deep = tmp / "deep-nesting.toml"
    deep.write_text("a = " + "[" * 10_000 + "]" * 10_000 + "\n")
    deep_table = tmp / "deep-inline-tables.toml"
    deep_table.write_text("a = " + "{ b = " * 5_000 + "1" + " }" * 5_000 + "\n")
    out += [
        ("binary", binary, "not UTF-8"),
        ("utf16", utf16, "UTF-16"),
        ("deep-nesting", deep, "nested too deeply"),
        ("deep-inline-tables", deep_table, "nested too deeply"),
        ("missing-file", tmp / "no-such-scenario.toml", "file not found"),
        ("directory", HAND_WRITTEN, "is a directory"),
    ]
    return out


GENERATED = generated_cases()
#: the click command behind ``transfer-sim`` (what the console script runs), built once: invoking it
#: through click's CliRunner costs ~3 ms, where ``typer.testing.CliRunner`` rebuilds it each time
COMMAND = typer.main.get_command(app)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    """Every case written to a file: label -> (path, expected text)."""
    folder = tmp_path_factory.mktemp("bad-scenarios")
    files: dict[str, tuple[Path, str | None]] = {}
    for case in GENERATED:
        path = folder / f"{case.label}.toml"
        assert case.label not in files, f"two cases named {case.label}"
        if isinstance(case.content, bytes):
            path.write_bytes(case.content)
        else:
            path.write_text(case.content, encoding="utf-8")
        files[case.label] = (path, case.expect)
    for label, path, expect in hand_written_cases(folder):
        files["hand:" + label] = (path, expect)
    return files


def check_output(path: Path, code: int, stderr: str, stdout: str, expect: str | None) -> None:
    """Exit 2, exactly one stderr line ``error: ...`` naming the file, no traceback, nothing on stdout."""
    assert code == 2, f"exit {code} for {path.name}\nstderr: {stderr}\nstdout: {stdout}"
    assert "Traceback" not in stderr + stdout, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), f"{len(lines)} lines:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert str(path) in lines[0], f"{path} not in {lines[0]}"
    assert len(lines[0]) <= len(str(path)) + 700, f"line too long ({len(lines[0])}): {lines[0]}"
    if expect:
        assert expect in lines[0], f"{expect!r} not in {lines[0]}"


def test_corpus_size() -> None:
    labels = [c.label for c in GENERATED]
    print(f"{len(labels)} generated malformed scenarios from {len(BUNDLED)} bundled files, "
          f"plus {len(list(HAND_WRITTEN.glob('*.toml')))} hand-written ones")
    assert len(labels) == len(set(labels))
    assert len(labels) >= MIN_GENERATED
    assert len(BUNDLED) >= 3


@pytest.mark.parametrize("label", [c.label for c in GENERATED] + [
    "hand:" + p.stem for p in sorted(HAND_WRITTEN.glob("*.toml"))
] + ["hand:" + s for s in ("binary", "utf16", "deep-nesting", "deep-inline-tables", "missing-file", "directory")])
def test_refused_in_process(corpus: dict[str, tuple[Path, str | None]], label: str) -> None:
    path, expect = corpus[label]
    # the case is malformed: it must not load (a valid mutation would fail here, not run a simulation)
    with pytest.raises(ScenarioError):
        load_scenario(path)
    result = CliRunner().invoke(COMMAND, ["run", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    check_output(path, result.exit_code, result.stderr, result.stdout, expect)


def _command() -> list[str]:
    script = Path(sys.executable).with_name("transfer-sim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from model.cli import app; app()"]


def _sample() -> list[str]:
    """15 cases spread over the corpus, with the hand-written classics among them."""
    hand = ["hand:deep-nesting", "hand:binary", "hand:directory", "hand:routing-cycle", "hand:services-table",
            "hand:gamma-cv-tiny"]
    step = max(1, len(GENERATED) // (SUBPROCESS_SAMPLE - len(hand)))
    generated = [c.label for c in GENERATED[::step]][: SUBPROCESS_SAMPLE - len(hand)]
    return hand + generated


@pytest.fixture(scope="module")
def subprocess_runs(corpus: dict[str, tuple[Path, str | None]]) -> dict[str, tuple[int, str, str]]:
    """Run the sample as real processes, a few at a time: label -> (exit code, stderr, stdout)."""

    def run(label: str) -> tuple[str, tuple[int, str, str]]:
        path, _ = corpus[label]
        try:
            proc = subprocess.run([*_command(), "run", str(path)], capture_output=True, text=True,
                                  timeout=TIMEOUT, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return label, (-1, f"timed out after {TIMEOUT} s", "")
        return label, (proc.returncode, proc.stderr, proc.stdout)

    with ThreadPoolExecutor(max_workers=2) as pool:  # the CI machine has 2 cores
        return dict(pool.map(run, _sample()))


@pytest.mark.parametrize("label", _sample())
def test_refused_by_the_installed_command(
    corpus: dict[str, tuple[Path, str | None]], subprocess_runs: dict[str, tuple[int, str, str]], label: str
) -> None:
    path, expect = corpus[label]
    code, stderr, stdout = subprocess_runs[label]
    check_output(path, code, stderr, stdout, expect)
