"""The lifecycle as data: its transition table, its Mermaid text and its diagram image.

Everything here is derived from :class:`model.lifecycle.TransferLifecycle`; nothing is restated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .errors import TransferSimError
from .lifecycle import TransferLifecycle, transitions

__all__ = ["transition_table", "mermaid", "write_diagram", "DiagramUnavailable"]


class DiagramUnavailable(TransferSimError, RuntimeError):
    """The diagram image cannot be drawn here (Graphviz's ``dot`` is missing)."""


def _path(state_id: str) -> str:
    state = TransferLifecycle.states_map[state_id]
    parts = [a.id for a in reversed(list(state.ancestors()))] + [state.id]
    return ".".join(parts)


def transition_table() -> pd.DataFrame:
    """One row per transition: ``state``, ``event``, ``target``, ``guard`` (and ``action``).

    States inside ``transferring`` are written ``transferring.routing``/``transferring.offered``;
    a guard of several conditions joins them with ``and``; no guard is an empty string.
    """
    rows = [
        {
            "state": _path(t.source),
            "event": t.event,
            "target": _path(t.target),
            "guard": " and ".join(t.guards),
            "action": ", ".join(t.actions),
        }
        for t in transitions()
    ]
    return pd.DataFrame(rows, columns=["state", "event", "target", "guard", "action"])


def mermaid() -> str:
    """The statechart as Mermaid ``stateDiagram-v2`` text (python-statemachine's renderer)."""
    return format(TransferLifecycle, "mermaid")


def dot_source() -> str:
    """The chart in Graphviz's DOT language (python-statemachine's renderer, with one fix).

    Graphviz puts a node in the first subgraph that mentions it; the renderer writes an edge
    leaving the compound state (``offered -> engaged``) inside the compound's cluster, which would
    draw ``engaged`` inside ``transferring``. Such edges are moved to the top level.
    """
    text = format(TransferLifecycle, "dot")
    inner = {s.id for s in TransferLifecycle.states_map.values() if s.parent is not None}
    kept: list[str] = []
    moved: list[str] = []
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if depth > 0 and " -> " in stripped and not stripped.startswith("__initial"):
            source, rest = stripped.split(" -> ", 1)
            target = rest.split(" ", 1)[0].rstrip(";")
            if source.strip('"') in inner and target.strip('"') not in inner:
                moved.append(line)
                continue
        depth += stripped.count("{") - stripped.count("}")
        kept.append(line)
    closing = max(i for i, line in enumerate(kept) if line.strip() == "}")
    return "\n".join(kept[:closing] + moved + kept[closing:]) + "\n"


def graphviz_available() -> bool:
    """Whether Graphviz's ``dot`` is on ``PATH`` (needed for SVG/PNG, not for Mermaid)."""
    return shutil.which("dot") is not None


def write_diagram(path: str | Path) -> Path:
    """Write the diagram to ``path``; the suffix picks the format (``.svg``, ``.png``, ``.mmd``,
    ``.md``, ``.dot``). Raises :class:`DiagramUnavailable` when an image needs Graphviz and it
    is not installed; the file is then not created."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in {"mmd", "mermaid"}:
        data: bytes = mermaid().encode()
    elif suffix == "md":
        data = f"```mermaid\n{mermaid()}\n```\n".encode()
    elif suffix in {"dot", "gv"}:
        data = dot_source().encode()
    elif suffix in {"svg", "png"}:
        if not graphviz_available():
            raise DiagramUnavailable(
                f"cannot write {path}: drawing .{suffix} needs Graphviz's 'dot' "
                "(Debian: apt-get install graphviz); use a .mmd file for Mermaid text instead"
            )
        from statemachine.contrib.diagram import run_graphviz

        data = run_graphviz(dot_source(), suffix)
    else:
        raise ValueError(f"unknown diagram format {path.suffix!r}; allowed: .svg, .png, .mmd, .md, .dot")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
