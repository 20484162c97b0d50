"""The reference model as a JSON-lines server: ``python -m model.conformance.serve``.

It is the exec side of the protocol in docs/conformance.md, backed by :class:`ModelAdapter`,
so the model itself passes through the language-neutral adapter. It is also a worked example
of the protocol loop: read a line, act, write one reply line, flush.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from .adapters import Adapter, ModelAdapter


def handle(adapter: Adapter, request: dict[str, Any]) -> dict[str, Any]:
    """One request -> one reply (``{"ok": false, "error": ...}`` on a bad request)."""
    op = request.get("op")
    if op == "create":
        adapter.create(request.get("config") or {})
        return {"ok": True}
    if op == "send":
        taken = adapter.send(str(request.get("event")), request.get("data") or {})
        return {"ok": True, "refused": not taken}
    if op == "advance":
        adapter.advance(float(request["seconds"]))
        return {"ok": True}
    if op == "read":
        return {"ok": True, **adapter.read()}
    if op == "dispose":
        adapter.dispose()
        return {"ok": True}
    return {"ok": False, "error": f"unknown op {op!r}"}


def serve(adapter: Adapter, stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> None:
    """Answer requests until stdin closes."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            reply = handle(adapter, json.loads(line))
        except Exception as err:  # broad on purpose: the implementation's error is a reply the runner shows, not a crash
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    serve(ModelAdapter())
