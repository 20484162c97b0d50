"""Adapters: how the runner drives an implementation of the transfer lifecycle.

Every adapter has the same five calls (the session API of model-based testing):

* ``create(config)``: a new contact arrives at virtual time 0 in ``queued``;
* ``send(event, data) -> bool``: take an event now; ``True`` if taken, ``False`` if refused;
* ``advance(seconds)``: move the virtual clock, firing due timers;
* ``read() -> dict``: ``{"state", "owner", "offered", "transfer_count"}``;
* ``dispose()``: forget the contact.

:class:`PythonAdapter` wraps any Python object with those methods (it need not import
``model``); :class:`ExecAdapter` runs a program of any language speaking the JSON-lines
protocol of ``docs/conformance.md``; :class:`ModelAdapter` is the reference model itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shlex
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import TransferSimError
from ..lifecycle import Contact, EventNotAllowed
from .program import Program, ProgramGone, program_problem
from .suite import observe, rules_from_config

__all__ = ["Adapter", "AdapterError", "ModelAdapter", "PythonAdapter", "ExecAdapter", "adapter_from_spec"]


class AdapterError(TransferSimError, RuntimeError):
    """The implementation under test could not be driven (crashed, bad reply, timed out)."""


class Adapter(ABC):
    """The session API the runner drives; subclass it, or give any object these methods."""

    @abstractmethod
    def create(self, config: Mapping[str, Any]) -> None:
        """Start a new contact in ``queued`` at virtual time 0 under ``config``."""

    @abstractmethod
    def send(self, event: str, data: Mapping[str, Any]) -> bool:
        """Take ``event`` with ``data`` at the current time; ``False`` if it is refused."""

    @abstractmethod
    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward by ``seconds``, firing the timers that fall due."""

    @abstractmethod
    def read(self) -> dict[str, Any]:
        """Observe the contact: ``state`` (leaf name), ``owner``, ``offered``, ``transfer_count``."""

    def dispose(self) -> None:
        """Forget the contact."""

    def close(self) -> None:
        """Release the adapter's resources (a subprocess); the runner calls it once at the end."""


def normalize(observation: Mapping[str, Any]) -> dict[str, Any]:
    """An observation in canonical form (``offered`` sorted, counts as ints)."""
    out = dict(observation)
    if "offered" in out and out["offered"] is not None:
        out["offered"] = sorted(out["offered"])
    if isinstance(out.get("transfer_count"), float) and out["transfer_count"].is_integer():
        out["transfer_count"] = int(out["transfer_count"])
    return out


class ModelAdapter(Adapter):
    """The reference model (:class:`model.lifecycle.Contact`) behind the adapter API.

    Args:
        engine: ``"chart"`` (default) runs the formal python-statemachine chart; ``"compiled"``
            its compiled table (same behaviour, faster).
    """

    def __init__(self, engine: str = "chart") -> None:
        self.engine = engine
        self.contact: Contact | None = None

    def create(self, config: Mapping[str, Any]) -> None:
        self.contact = Contact(rules_from_config(config), now=0.0, engine=self.engine)  # type: ignore[arg-type]

    def _c(self) -> Contact:
        if self.contact is None:
            raise AdapterError("no contact: call create first")
        return self.contact

    def send(self, event: str, data: Mapping[str, Any]) -> bool:
        try:
            self._c().send(event, **dict(data))
        except EventNotAllowed:
            return False
        return True

    def advance(self, seconds: float) -> None:
        c = self._c()
        c.advance(c.now + float(seconds))

    def read(self) -> dict[str, Any]:
        return observe(self._c())

    def dispose(self) -> None:
        self.contact = None


class PythonAdapter(Adapter):
    """Any Python object with ``create/send/advance/read/dispose``, checked and normalized."""

    def __init__(self, impl: Any) -> None:
        missing = [m for m in ("create", "send", "advance", "read") if not callable(getattr(impl, m, None))]
        if missing:
            raise AdapterError(f"{type(impl).__name__} lacks the adapter method(s): {', '.join(missing)}")
        self.impl = impl

    def create(self, config: Mapping[str, Any]) -> None:
        self.impl.create(json.loads(json.dumps(config)))

    def send(self, event: str, data: Mapping[str, Any]) -> bool:
        taken = self.impl.send(event, json.loads(json.dumps(dict(data))))
        if not isinstance(taken, bool):
            raise AdapterError(f"send must return True (taken) or False (refused), got {taken!r}")
        return taken

    def advance(self, seconds: float) -> None:
        self.impl.advance(float(seconds))

    def read(self) -> dict[str, Any]:
        return normalize(self.impl.read())

    def dispose(self) -> None:
        if callable(getattr(self.impl, "dispose", None)):
            self.impl.dispose()

    def close(self) -> None:
        if callable(getattr(self.impl, "close", None)):
            self.impl.close()


STEP_TIMEOUT = 5.0
"""Seconds the exec adapter waits for each reply (``conform --step-timeout``)."""

START_TIMEOUT = 15.0
"""Seconds a freshly started program may take for its first reply (interpreters that load slowly)."""

GIVE_UP_AFTER = 3
"""Fresh starts in a row that end before their first reply, after which a program is not started again."""


def check_observation(obs: Any, source: str = "read") -> dict[str, Any]:
    """``obs`` as an observation, or :class:`AdapterError` saying what is wrong with its shape."""
    if not isinstance(obs, Mapping):
        raise AdapterError(f"{source} must give an object with state, owner, offered, transfer_count; got {obs!r}")
    missing = [k for k in ("state", "owner", "offered", "transfer_count") if k not in obs]
    problems = [f"lacks {', '.join(repr(k) for k in missing)}"] if missing else []
    if "state" in obs and not isinstance(obs["state"], str):
        problems.append(f"'state' is not a state name: {obs['state']!r}")
    if "owner" in obs and obs["owner"] is not None and not isinstance(obs["owner"], str):
        problems.append(f"'owner' is not an agent name or null: {obs['owner']!r}")
    offered = obs.get("offered")
    if "offered" in obs and not (isinstance(offered, list) and all(isinstance(a, str) for a in offered)):
        problems.append(f"'offered' is not a list of agent names: {offered!r}")
    count = obs.get("transfer_count")
    if "transfer_count" in obs and (isinstance(count, bool) or not isinstance(count, (int, float))
                                    or count != int(count)):
        problems.append(f"'transfer_count' is not a whole number: {count!r}")
    if problems:
        raise AdapterError(f"{source}: the observation {'; '.join(problems)}")
    return normalize({k: obs[k] for k in ("state", "owner", "offered", "transfer_count")})


class ExecAdapter(Adapter):
    """A program of any language speaking JSON lines: one request per line on its stdin, one
    reply per line on its stdout (protocol in docs/conformance.md). One process serves case
    after case while it behaves.

    It survives its program. Each reply is waited for ``timeout`` seconds (the first reply of a
    fresh process up to ``start_timeout``). A program that exits, hangs (it is then killed) or
    replies with something that is not a reply fails the request with an :class:`AdapterError`
    naming its exit status and the end of its stderr, and the next :meth:`create` starts it
    afresh. After :data:`GIVE_UP_AFTER` fresh starts in a row that ended before their first reply
    (a program that exits at once, or never flushes), it is not started again: every later
    ``create`` fails at once with that reason, so a suite still finishes quickly.

    Args:
        command: the command line (split with :func:`shlex.split`).
        timeout: seconds to wait for each reply.
        cwd: working directory of the process.
        start_timeout: seconds to wait for the first reply of a fresh process (at least ``timeout``).
    """

    def __init__(self, command: str | list[str], timeout: float = STEP_TIMEOUT, cwd: str | Path | None = None,
                 start_timeout: float = START_TIMEOUT) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise AdapterError("exec adapter: empty command")
        self.command = " ".join(self.argv)
        self.timeout = timeout
        self.start_timeout = max(timeout, start_timeout)
        self.cwd = cwd
        self.program: Program | None = None
        self.starts = 0
        self._silent_starts = 0  # fresh starts in a row that ended before their first reply
        self._given_up: str | None = None

    def check(self) -> None:
        """Raise :class:`AdapterError` when the program cannot be found (bad input, not a failure)."""
        problem = program_problem(self.argv, self.cwd)
        if problem:
            raise AdapterError(f"exec adapter: {problem}")

    def _fresh(self) -> Program:
        if self._given_up is not None:
            raise AdapterError(self._given_up)
        if self.program is not None:
            self.program.close(grace=0.0)
        try:
            self.program = Program(self.argv, self.cwd)
        except OSError as err:
            self.program = None
            raise AdapterError(f"cannot start {self.command!r}: {err.strerror or err}") from None
        self.starts += 1
        return self.program

    def _failed(self, program: Program, what: str) -> AdapterError:
        """The error for a request the program failed; stops it so the next create starts afresh."""
        program.stop()
        tail = program.stderr_tail()
        text = f"{what}" + (f"; its stderr ends with:\n{tail}" if tail else "; nothing on its stderr")
        if program.answered:
            self._silent_starts = 0
        else:
            self._silent_starts += 1
            if self._silent_starts >= GIVE_UP_AFTER:
                self._given_up = (f"{self.command!r} is not started again: {self._silent_starts} fresh starts in "
                                  f"a row ended before their first reply; the last: {text}")
                return AdapterError(self._given_up)
        return AdapterError(text + "\n  (it is started again for the next case)")

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request, return its reply; :class:`AdapterError` on any failure of the program."""
        program = self.program
        if program is None or not program.alive:
            raise AdapterError(f"{self.command!r} is not running (a case starts with create)")
        shown = '{"op": "create", ...}' if message.get("op") == "create" else _short(json.dumps(message))
        wait = self.timeout if program.answered else self.start_timeout
        try:
            line = program.exchange(json.dumps(message), wait)
        except ProgramGone as gone:
            if gone.hung:
                hint = "" if program.answered else " (a program must flush stdout after each reply line)"
                raise self._failed(program, f"no reply to {shown} within {wait:g} s{hint}; "
                                            f"{self.command!r} was stopped") from None
            raise self._failed(program, f"{self.command!r} {gone} on {shown}, before replying") from None
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise self._failed(program, f"reply to {shown} is not JSON: {_short(line)!r}") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            raise self._failed(program, f"reply to {shown} is not an object with 'ok': {_short(line)!r}")
        self._silent_starts = 0
        if reply["ok"] is not True:
            raise AdapterError(f"{shown} failed: {reply.get('error') or _short(line)}")
        return reply

    def create(self, config: Mapping[str, Any]) -> None:
        if self.program is None or not self.program.alive:
            self._fresh()
        self.request({"op": "create", "config": dict(config)})

    def send(self, event: str, data: Mapping[str, Any]) -> bool:
        reply = self.request({"op": "send", "event": event, "data": dict(data)})
        refused = reply.get("refused")
        if not isinstance(refused, bool):
            raise AdapterError(f"reply to send lacks a boolean 'refused': {_short(json.dumps(reply))}")
        return not refused

    def advance(self, seconds: float) -> None:
        self.request({"op": "advance", "seconds": float(seconds)})

    def read(self) -> dict[str, Any]:
        reply = self.request({"op": "read"})
        return check_observation(reply, "reply to read")

    def dispose(self) -> None:
        if self.program is not None and self.program.alive:  # a stopped program has nothing to forget
            self.request({"op": "dispose"})

    def close(self) -> None:
        if self.program is not None:
            self.program.close()
            self.program = None


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _load_class(module: str, name: str) -> Any:
    if module.endswith(".py") or "/" in module:
        path = Path(module)
        if not path.is_file():
            raise AdapterError(f"python adapter: no file {module}")
        spec = importlib.util.spec_from_file_location(f"_conformance_impl_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as err:  # broad: whatever loading the user's file raises is bad input, said in one line
            raise AdapterError(f"python adapter: loading {module} failed: {type(err).__name__}: {err}") from None
    else:
        try:
            mod = importlib.import_module(module)
        except ImportError as err:
            raise AdapterError(f"python adapter: cannot import {module}: {err}") from None
        except Exception as err:  # broad: as above, for an importable module that fails while loading
            raise AdapterError(f"python adapter: importing {module} failed: {type(err).__name__}: {err}") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise AdapterError(f"python adapter: {module} has no {name}") from None


def adapter_from_spec(spec: str, timeout: float = STEP_TIMEOUT, check: bool = False) -> Adapter:
    """Build an adapter from its command-line form.

    * ``model``: the reference model;
    * ``python:MODULE:CLASS``: ``CLASS()`` from an importable module or a ``.py`` file path;
    * ``exec:COMMAND``: a subprocess speaking JSON lines, ``timeout`` seconds per reply.

    ``check``: also refuse an ``exec`` program that cannot be found (``conform`` does, so that a
    typo is bad input, exit status 2, rather than every case failing).
    """
    if spec == "model":
        return ModelAdapter()
    kind, _, rest = spec.partition(":")
    if kind == "exec" and rest.strip():
        try:
            adapter = ExecAdapter(rest, timeout=timeout)
        except ValueError as err:  # shlex: unbalanced quotes
            raise AdapterError(f"exec adapter: cannot split the command {rest!r}: {err}") from None
        if check:
            adapter.check()
        return adapter
    if kind == "python":
        module, _, name = rest.rpartition(":")
        if not module or not name:
            raise AdapterError(f"python adapter spec is python:MODULE:CLASS, got {spec!r}")
        cls = _load_class(module, name)
        try:
            obj = cls() if isinstance(cls, type) or callable(cls) else cls
        except Exception as err:  # broad: an adapter class that cannot be built is bad input, said in one line
            raise AdapterError(f"python adapter: {name}() failed: {type(err).__name__}: {err}") from None
        if isinstance(obj, Adapter):
            return obj
        return PythonAdapter(obj)
    raise AdapterError(f"unknown adapter {spec!r}: use model, python:MODULE:CLASS or exec:COMMAND")
