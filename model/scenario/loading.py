"""Reading a scenario: a TOML file (:func:`load_scenario`), or whatever an API takes (:func:`as_scenario`).

Why apart from the models: this is the only place that touches files and decides what a
"scenario argument" may be, so every caller (the simulator, sweeps, tuning, the CLI) accepts
and refuses the same things with the same messages.
"""

from __future__ import annotations

import os
from pathlib import Path

from .distributions import data_directory
from .errors import Problem, ScenarioError
from .schema import Scenario, scenario_from_dict

__all__ = ["as_scenario", "load_scenario", "MAX_FILE_BYTES"]

#: the largest scenario file read (a day's profile by the minute is about 30 kB)
MAX_FILE_BYTES = 16 * 2**20
#: what a scenario file needs at least (the message for an empty file)
_EMPTY = "the file is empty (or only comments); a scenario needs [simulation], [[services]] and [[groups]]"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file; its ``name`` defaults to the file stem.

    Raises :class:`ScenarioError` for a missing or unreadable file, text that is not UTF-8, a TOML
    syntax error (with line), nesting too deep to parse, an empty file or invalid content. A UTF-8
    byte-order mark at the start (as some Windows editors save) is ignored.
    Data files of empirical distributions (``file = ...``) are relative to the scenario file's folder.
    """
    import tomllib

    p = Path(path)
    source = str(path)
    try:
        with p.open("rb") as file:  # a pipe (/dev/stdin) works; /dev/zero must not fill the memory
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError([Problem("", "file not found")], source) from None
    except IsADirectoryError:
        raise ScenarioError([Problem("", "is a directory, not a scenario file")], source) from None
    except OSError as exc:
        raise ScenarioError([Problem("", f"cannot read the file: {exc.strerror or exc}")], source) from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise ScenarioError([Problem("", f"cannot read the file: {exc}")], source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError([Problem("", f"larger than {MAX_FILE_BYTES // 2**20} MiB; a scenario file is a "
                                         "few kB (is it the right file?)")], source)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError([Problem("", "the file is UTF-16 text; save it as UTF-8")], source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem("", f"not UTF-8 text ({exc.reason} at byte {exc.start}); is it a TOML file?")
        raise ScenarioError([problem], source) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark: harmless, and TOML has no use for it
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem("", f"TOML syntax error: {exc}")], source) from None
    except RecursionError:
        raise ScenarioError([Problem("", "nested too deeply to read (arrays or tables inside each other "
                                         "hundreds of levels deep)")], source) from None
    if not data:
        raise ScenarioError([Problem("", _EMPTY)], source)
    with data_directory(p.parent):  # an empirical distribution's file is relative to this file
        return scenario_from_dict(data, name=p.stem, source=source)


def as_scenario(scenario: Scenario | str | os.PathLike[str]) -> Scenario:
    """``scenario`` itself, or the scenario file it names loaded (:func:`load_scenario`).

    Why: the simulator, sweeps and tuning accept either, and must refuse anything else at once
    with one clear message rather than fail later on a missing attribute. Raises
    :class:`ScenarioError` for a path that cannot be loaded, :class:`TypeError` for any other type
    (``bytes`` paths included: scenario paths are text).
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, os.PathLike)):
        path = os.fspath(scenario)
        if isinstance(path, str):
            return load_scenario(path)
    raise TypeError(
        f"a scenario must be a Scenario or the path of a TOML file (str or os.PathLike), "
        f"got {type(scenario).__name__}"
    )
