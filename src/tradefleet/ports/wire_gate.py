"""The last check before an order's bytes leave the process.

A broker adapter may wait between its caller's send guard and the wire: for a token, for a
place in a shared rate budget (a database round trip), or before resending an order the
gateway refused with EGW00201. A lease can lapse in that wait. So the caller's guard
installs its check here for the duration of one order call (``wire_gate``), and an adapter
that can wait calls ``check_wire_gate()`` immediately before each HTTP write of an order,
resends included. A check that fails raises (SendRefused): nothing was sent.

A context variable, not an argument: the check travels with the order call through every
wrapper (metering, shared quotes) without each of them knowing about it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_GATE: ContextVar[Callable[[], None] | None] = ContextVar("wire_gate", default=None)


@contextmanager
def wire_gate(check: Callable[[], None]) -> Iterator[None]:
    """Run ``check`` before every wire write of the order call made inside this block."""
    token = _GATE.set(check)
    try:
        yield
    finally:
        _GATE.reset(token)


def check_wire_gate() -> None:
    """Called by an adapter right before an order's HTTP write; raises to refuse it."""
    gate = _GATE.get()
    if gate is not None:
        gate()
