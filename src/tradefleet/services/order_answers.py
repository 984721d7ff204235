"""The broker answers of this process's order sends (issue 20): which rows it wrote and may
still send or is sending now (the follower leaves those alone), whether a send still awaits
its answer, how many answers it has written, and waiting for the next one.

A pushed fill may come before its order's answer is written (KIS pushes it as the order
fills, maybe before the POST's answer reaches us): judged not ours then, it may be ours once
that answer is written, so the notice recorder asks here whether an answer is awaited and
waits for the next one (services/order_service.py writes them; worker/fill_notices.py)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator


class OrderAnswers:
    def __init__(self, send_window_s: float) -> None:
        # NEW rows written by this process and not yet past their one send (monotonic time
        # written): the follower leaves them alone (only this process may still send them).
        # Nothing else goes in: an order past its send is followed by anyone (reports apply
        # idempotently), and a row never sent (its caller failed in between) is hidden for
        # ``send_window_s`` at most, so no order is kept from the follower for ever.
        self._in_flight: dict[int, float] = {}
        self._send_window = send_window_s
        self._answered = asyncio.Event()    # replaced each time an answer is written
        self.written = 0                    # answers written so far

    def row_written(self, order_id: int) -> None:
        """This process wrote the NEW row ``order_id`` and may send it (for ``send_window_s``
        real seconds)."""
        self._in_flight[order_id] = time.monotonic()

    @contextlib.contextmanager
    def awaiting(self, order_id: int) -> Iterator[None]:
        """While the block lasts ``order_id``'s send is on the wire or its answer not yet
        written: hidden from the follower, and an answer is pending."""
        self._in_flight[order_id] = math.inf     # hidden for as long as the call lasts
        try:
            yield
        finally:
            self._in_flight.pop(order_id, None)

    def sending(self, order_id: int) -> bool:
        """This process is sending the row now, or wrote it less than ``send_window_s`` (real
        seconds) ago and may still send it."""
        written = self._in_flight.get(order_id)
        if written is None:
            return False
        if written == math.inf or time.monotonic() - written < self._send_window:
            return True
        self._in_flight.pop(order_id, None)
        return False

    def pending(self) -> bool:
        """A send of this process is on the wire or its answer not yet written: a pushed fill
        judged not ours now may be ours once that answer is written. When none is, every
        answer this process got is already in the database."""
        return any(written == math.inf for written in self._in_flight.values())

    def answer_written(self) -> None:
        """An order's answer (its broker order number) was just written: a pushed fill that
        came before it, and was not ours yet, may be looked at again now."""
        self.written += 1
        self._answered.set()
        self._answered = asyncio.Event()

    async def next_answer(self, within_s: float, since: int | None = None) -> None:
        """Until the next answer is written, or ``within_s`` seconds (a pushed fill that came
        before its order's answer waits for it, not for a timer); at once when one was
        written since ``since`` (a count of ``written``): an answer written while a notice
        was being looked at is not waited for again (that look may have missed it: it was
        the 0.2 s tail of fill-to-record)."""
        if since is not None and self.written != since:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered.wait(), within_s)
