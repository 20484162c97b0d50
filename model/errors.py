"""The base class of every error transfer-sim raises on purpose.

Why one base: a caller (the CLI, a sweep, a notebook) can tell "transfer-sim refused this, with a
message meant for a person" from a bug, with one ``except``; and a sweep point that fails in a
worker process must reach the parent as the same error with the same message. Python pickles an
exception as ``cls(*args)``, which breaks for any subclass whose constructor takes other
arguments than its message (the parent then sees ``BrokenProcessPool`` instead of the reason);
:meth:`TransferSimError.__reduce__` pickles the message and the attributes instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TransferSimError"]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    err = cls.__new__(cls)
    BaseException.__init__(err, *args)
    err.__dict__.update(state)
    return err


class TransferSimError(Exception):
    """An input or request transfer-sim cannot use; ``str()`` is a message for a person."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))
