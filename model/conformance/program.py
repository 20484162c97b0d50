"""A program under test, run as a subprocess that must answer each request line within a time limit.

Why a module of its own: the exec adapter (:class:`~model.conformance.adapters.ExecAdapter`) must
survive the program it drives. A program that crashes, hangs or closes its output is the
program's failure, to be reported with its exit status and the end of its stderr, never the
runner's. This module holds the process side of that (start, one reply line per request within a
timeout, stop, how it ended); the adapter keeps the JSON-lines protocol and the restart policy.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

from ..errors import TransferSimError

__all__ = ["Program", "ProgramGone", "program_problem"]

_TAIL_LINES = 12
_TAIL_CHARS = 1500


class ProgramGone(TransferSimError, RuntimeError):
    """The program exited, or gave no reply in time and was stopped (``hung``)."""

    def __init__(self, message: str, hung: bool = False) -> None:
        super().__init__(message)
        self.hung = hung

    def __reduce__(self) -> tuple[type, tuple[str, bool]]:
        return type(self), (str(self), self.hung)


def program_problem(argv: list[str], cwd: str | Path | None = None) -> str | None:
    """Why ``argv`` cannot be started (no such program, not executable), or ``None``."""
    import shutil

    prog = argv[0]
    if os.sep in prog or (os.altsep and os.altsep in prog):
        path = Path(cwd or ".") / prog
        if not path.is_file():
            return f"no program {prog}"
        if not os.access(path, os.X_OK):
            return f"{prog} is not executable"
        return None
    if shutil.which(prog) is None:
        return f"no program {prog!r} on PATH"
    return None


class Program:
    """One run of the program: its stdin, a queue of its stdout lines (read by a thread, so that
    a reply can be waited for with a timeout) and its stderr in a temporary file.

    The program runs in a session of its own, so that stopping it stops what it started too.
    Raises :class:`OSError` when it cannot be started.
    """

    def __init__(self, argv: list[str], cwd: str | Path | None = None) -> None:
        self.answered = False  # whether it has replied at least once
        self._stderr: IO[str] = tempfile.TemporaryFile(mode="w+", errors="replace")
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                bufsize=1, cwd=cwd, errors="replace", start_new_session=True,
            )
        except OSError:
            self._stderr.close()
            raise
        self._lines: queue.Queue[str | None] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:
            try:
                for line in stdout:
                    self._lines.put(line)
            except (OSError, ValueError):  # the pipe was closed under it by close()
                pass
            self._lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def exchange(self, line: str, timeout: float) -> str:
        """Write ``line``, return the next non-blank line the program prints (without its end).

        Raises :class:`ProgramGone` when it exits first, or stops it and raises when no line
        comes within ``timeout`` seconds.
        """
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(line + "\n")
            stdin.flush()
        except OSError:  # BrokenPipeError: it has exited (or closed its stdin)
            raise ProgramGone(self._ended()) from None
        while True:
            try:
                out = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise ProgramGone(f"no reply within {timeout:g} s; the program was stopped", hung=True) from None
            if out is None:
                raise ProgramGone(self._ended())
            if out.strip():
                self.answered = True
                return out.rstrip("\r\n")

    def _ended(self) -> str:
        """How the program ended (it has closed its output or its input): waits a moment for it."""
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.stop()
            return "it closed its output but kept running; it was stopped"
        return self.exit_text()

    def exit_text(self) -> str:
        """``exited with status 3`` or ``was killed by signal 11 (SIGSEGV)``."""
        code = self.proc.returncode
        if code is None:
            return "is still running"
        if code < 0:
            try:
                name = f" ({signal.Signals(-code).name})"
            except ValueError:
                name = ""
            return f"was killed by signal {-code}{name}"
        return f"exited with status {code}"

    def stderr_tail(self) -> str:
        """The last lines of what the program wrote on stderr, indented (empty if nothing)."""
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read()
        except (OSError, ValueError):  # ValueError: the file was closed
            return ""
        lines = text.rstrip().splitlines()[-_TAIL_LINES:]
        tail = "\n".join(lines)[-_TAIL_CHARS:]
        return "\n".join("    | " + s for s in tail.splitlines())

    def stop(self) -> None:
        """Kill the program and whatever it started (its session), and reap it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (OSError, AttributeError):  # not a group leader any more, or no killpg (Windows)
                self.proc.kill()
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass

    def close(self, grace: float = 2.0) -> None:
        """Close its stdin (the protocol's "exit now"), wait ``grace`` seconds, then stop it."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.stop()
        for f in (self.proc.stdout, self._stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
