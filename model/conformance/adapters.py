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
import queue
import shlex
import subprocess
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import TransferSimError
from ..lifecycle import Contact, EventNotAllowed
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


class ExecAdapter(Adapter):
    """A subprocess speaking JSON lines: one request per line on its stdin, one reply per line
    on its stdout (protocol in docs/conformance.md). One process serves the whole suite.

    Args:
        command: the command line (split with :func:`shlex.split`).
        timeout: seconds to wait for each reply.
        cwd: working directory of the process.
    """

    def __init__(self, command: str | list[str], timeout: float = 10.0, cwd: str | Path | None = None) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise AdapterError("exec adapter: empty command")
        self.command = " ".join(self.argv)
        self.timeout = timeout
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr = tempfile.TemporaryFile(mode="w+")

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        if self.proc is not None:
            raise AdapterError(f"{self.command!r} exited with status {self.proc.returncode}{self._tail()}")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                bufsize=1,
                cwd=self.cwd,
            )
        except OSError as err:
            raise AdapterError(f"cannot start {self.command!r}: {err.strerror or err}") from None
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                self._lines.put(line)
            self._lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        return self.proc

    def _tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().strip()
        return f"; its stderr ends with:\n{text[-1500:]}" if text else ""

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request, return its reply; :class:`AdapterError` on a protocol failure."""
        proc = self._start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            proc.wait(timeout=self.timeout)
            raise AdapterError(f"{self.command!r} exited (status {proc.returncode}){self._tail()}") from None
        while True:
            try:
                line = self._lines.get(timeout=self.timeout)
            except queue.Empty:
                raise AdapterError(f"no reply from {self.command!r} to {json.dumps(message)} within {self.timeout} s") from None
            if line is None:
                proc.wait(timeout=self.timeout)
                raise AdapterError(
                    f"{self.command!r} exited (status {proc.returncode}) on {json.dumps(message)}{self._tail()}"
                )
            if line.strip():
                break
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise AdapterError(f"reply to {json.dumps(message)} is not JSON: {line.strip()[:200]!r}") from None
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            error = reply.get("error") if isinstance(reply, dict) else None
            raise AdapterError(f"{json.dumps(message)} failed: {error or line.strip()[:200]}")
        return reply

    def create(self, config: Mapping[str, Any]) -> None:
        self.request({"op": "create", "config": dict(config)})

    def send(self, event: str, data: Mapping[str, Any]) -> bool:
        reply = self.request({"op": "send", "event": event, "data": dict(data)})
        refused = reply.get("refused")
        if not isinstance(refused, bool):
            raise AdapterError(f"reply to send lacks a boolean 'refused': {json.dumps(reply)}")
        return not refused

    def advance(self, seconds: float) -> None:
        self.request({"op": "advance", "seconds": float(seconds)})

    def read(self) -> dict[str, Any]:
        reply = self.request({"op": "read"})
        return normalize({k: reply.get(k) for k in ("state", "owner", "offered", "transfer_count")})

    def dispose(self) -> None:
        self.request({"op": "dispose"})

    def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        self._stderr.close()


def _load_class(module: str, name: str) -> Any:
    if module.endswith(".py") or "/" in module:
        path = Path(module)
        if not path.is_file():
            raise AdapterError(f"python adapter: no file {module}")
        spec = importlib.util.spec_from_file_location(f"_conformance_impl_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    else:
        try:
            mod = importlib.import_module(module)
        except ImportError as err:
            raise AdapterError(f"python adapter: cannot import {module}: {err}") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise AdapterError(f"python adapter: {module} has no {name}") from None


def adapter_from_spec(spec: str, timeout: float = 10.0) -> Adapter:
    """Build an adapter from its command-line form.

    * ``model``: the reference model;
    * ``python:MODULE:CLASS``: ``CLASS()`` from an importable module or a ``.py`` file path;
    * ``exec:COMMAND``: a subprocess speaking JSON lines.
    """
    if spec == "model":
        return ModelAdapter()
    kind, _, rest = spec.partition(":")
    if kind == "exec" and rest.strip():
        return ExecAdapter(rest, timeout=timeout)
    if kind == "python":
        module, _, name = rest.rpartition(":")
        if not module or not name:
            raise AdapterError(f"python adapter spec is python:MODULE:CLASS, got {spec!r}")
        cls = _load_class(module, name)
        obj = cls() if isinstance(cls, type) or callable(cls) else cls
        if isinstance(obj, Adapter):
            return obj
        return PythonAdapter(obj)
    raise AdapterError(f"unknown adapter {spec!r}: use model, python:MODULE:CLASS or exec:COMMAND")
