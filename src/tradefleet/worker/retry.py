"""Retry policy for broker *reads* (spec EC-001): exponential backoff, 3 attempts in all.

Order sends never go through here: a resent order can double a position, so ambiguity is
the order service's job (reconcile, never resend)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from tradefleet.adapters.telemetry.logging import get_logger
from tradefleet.domain.errors import BrokerTimeout, BrokerUnavailable, RateLimited
from tradefleet.domain.events import BrokerCallFailedEvent
from tradefleet.ports.events import EventSink

T = TypeVar("T")

READ_ATTEMPTS = 3
RETRYABLE = (BrokerTimeout, BrokerUnavailable, RateLimited, TimeoutError)


class BrokerReadFailed(BrokerUnavailable):
    """All attempts of one broker read failed; the caller skips this poll and waits."""

    def __init__(self, operation: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{operation}: failed after {attempts} attempts "
                         f"({type(last).__name__}: {last})")
        self.operation = operation
        self.attempts = attempts
        self.last = last


class BrokerReadRetry:
    """Runs one broker read with backoff; every failed try is logged at ERROR with its
    error type, and a BrokerCallFailedEvent is published after the last one."""

    def __init__(self, sink: EventSink, *, worker_id: str | None = None,
                 attempts: int = READ_ATTEMPTS, base_delay: float = 0.2,
                 max_delay: float = 2.0) -> None:
        if attempts < 1:
            raise ValueError("attempts: must be >= 1")
        if base_delay < 0 or max_delay < 0:
            raise ValueError("base_delay/max_delay: must be >= 0")
        self._sink = sink
        self._worker_id = worker_id
        self._attempts = attempts
        self._base = base_delay
        self._max = max_delay
        self._log = get_logger(component="broker_retry", worker_id=worker_id)

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]], *,
                   symbol: str | None = None) -> T:
        # the first try runs bare: most reads succeed at once, and the retry machinery's
        # set-up per call was a tenth of a replayed day's CPU (issue 21). A retryable
        # failure goes on exactly as the policy says (same tries, logs, backoff, event).
        try:
            return await fn()
        except RETRYABLE as exc:
            first = exc
        return await self._after_first_failure(operation, fn, symbol, first)

    def _log_failure(self, operation: str, symbol: str | None, attempt: int,
                     exc: BaseException | None) -> None:
        self._log.error("broker call failed", operation=operation, symbol=symbol,
                        attempt=attempt, max_attempts=self._attempts,
                        error_type=type(exc).__name__, error=str(exc),
                        will_retry=attempt < self._attempts, exc_info=exc)

    async def _after_first_failure(self, operation: str, fn: Callable[[], Awaitable[T]],
                                   symbol: str | None, first: BaseException) -> T:
        """Tries 2..N of the policy: the first try's failure is logged, the backoff after
        try k is ``base * 2**(k-1)`` capped at ``max_delay`` (tenacity's exponential wait,
        here counted from the second try), and the last failure publishes the event."""
        self._log_failure(operation, symbol, 1, first)
        if self._attempts == 1:
            await self._give_up(operation, symbol, first)
        await asyncio.sleep(min(self._base, self._max))

        def on_failure(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self._log_failure(operation, symbol, state.attempt_number + 1, exc)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts - 1),
            wait=wait_exponential(multiplier=self._base * 2, max=self._max),
            retry=retry_if_exception_type(RETRYABLE),
            after=on_failure,
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await fn()
        except RetryError as err:
            last = err.last_attempt.exception()
            assert last is not None
            await self._give_up(operation, symbol, last)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _give_up(self, operation: str, symbol: str | None, last: BaseException
                       ) -> NoReturn:
        await self._sink.publish(BrokerCallFailedEvent(
            worker_id=self._worker_id, symbol=symbol, operation=operation,
            error_type=type(last).__name__, error=str(last), attempts=self._attempts))
        raise BrokerReadFailed(operation, self._attempts, last) from last
