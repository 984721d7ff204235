"""The worker records the pushed fills of its own orders at once (issue 20).

Each fill notice of the account reaches every worker of it (the holder's notice channel);
this worker records it only when one of its orders has that broker order number today
(``OrderService.record_fill_notice``): a person's order, or another worker's, is not ours.
A notice may come before the order's answer is written (KIS pushes it as the order fills,
maybe before the POST's answer reaches us): one that is "not ours" while a send of this
process awaits its answer is looked at again as soon as this process writes an answer (at
once if one was written while it was being looked at), or after each of ``not_ours_retry_s``
at the latest. One judged not ours while no send of this
process was awaiting its answer is final at once: every answer this process got was already
in the database when it was looked at. Each notice reaches every worker of the account, so
the fleet's other workers (20 of them, each looking again three times, made 77 money
transactions of every fill on 2 cores) no longer look at it more than once. A notice that
fails to record (the database away) is only logged: the order follower (REST) finds the
same execution on its next pass and records it once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

import structlog

from tradefleet.ports.feed import FillNotice
from tradefleet.services.order_service import OrderService


class FillNoticeRecorder:
    def __init__(self, orders: OrderService, worker_id: str,
                 trading_day: Callable[[], date], *,
                 not_ours_retry_s: tuple[float, ...] = (0.2, 1.0, 3.0)) -> None:
        self._orders = orders
        self.worker_id = worker_id
        self._day = trading_day
        self._retry_s = not_ours_retry_s
        self._tasks: set[asyncio.Task] = set()
        self.outcomes: dict[str, int] = {}
        self.looks = 0                  # database looks at notices (for tests and the bench)
        self._log = structlog.get_logger("tradefleet.feed").bind(worker_id=worker_id)

    def __call__(self, notice: FillNotice) -> None:
        """The listener's handler (on the event loop; must not block)."""
        task = asyncio.get_running_loop().create_task(self.record(notice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def record(self, notice: FillNotice) -> str | None:
        # both taken before the look (see the docstring)
        pending, seen = self._orders.answers_pending(), self._orders.answers_written()
        outcome = await self._record_once(notice)
        for delay in self._retry_s:
            if outcome != "not ours" or not pending:
                break
            # woken as our answer is written (at once if it was while we looked)
            await self._orders.next_answer(delay, since=seen)
            pending, seen = self._orders.answers_pending(), self._orders.answers_written()
            outcome = await self._record_once(notice)
        if outcome is not None:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    async def _record_once(self, notice: FillNotice) -> str | None:
        self.looks += 1
        try:
            outcome = await self._orders.record_fill_notice(self.worker_id, self._day(),
                                                            notice)
        except Exception as exc:  # noqa: BLE001 - the follower records it instead
            self._log.warning("pushed fill not recorded; the order follower will",
                              order_no=notice.order_no, error_type=type(exc).__name__,
                              error=str(exc))
            return None
        if outcome == "recorded":
            self._log.info("fill recorded from the push", order_no=notice.order_no,
                           symbol=notice.symbol, side=notice.side, qty=notice.qty,
                           price=notice.price)
        return outcome

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
