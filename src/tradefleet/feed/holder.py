"""The feed holder: one per account, elected through PostgreSQL, runs the account's KIS
WebSocket and publishes its ticks to the fleet.

Every candidate (a worker, or a ``tradefleet feed`` process) runs ``FeedHolder.run``: it
tries for the lease every ``retry_s``; the winner opens the feed, registers the symbols the
fleet holds, renews the lease every ``renew_s`` and publishes a heartbeat (the feed's state)
on the account's status channel at each renewal.

Failover: a holder that dies stops renewing; its lease lapses ``ttl_s`` after its last
renewal (database clock) and a candidate takes it within ``retry_s`` more, then connects:
a failover takes at most ``ttl_s + retry_s`` plus one WebSocket connect (3.5 s + connect with
the defaults; bench/realtime.py measures it). A holder that stops cleanly releases the lease
at once.

Fencing, twice, as the worker's orders are: a holder publishes only while its local lease
(monotonic clock, from the moment its last accepted renewal was *sent*, minus a margin) is
valid, and the publish statement itself is refused by the database once the lease lapsed or
passed to a newer token. A holder frozen past its lease (SIGSTOP, a long GC, a paused VM)
wakes up to a refused publish, stops its feed and stands for election again.

A frozen holder's WebSocket stays open, and KIS (as the simulator) refuses a second session
of the appkey while it is ("ALREADY IN USE appkey"): the new holder wins the lease in
ttl + retry but is live only once the frozen process wakes and closes its session, or its
TCP connection dies. Until then the workers poll (their listeners say STALE); measured in
bench/results/realtime.txt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

from tradefleet.adapters.kis.ws_notices import OrderNotice
from tradefleet.adapters.kis.ws_ticks import TICK_TR, Tick
from tradefleet.domain.lease import Lease
from tradefleet.feed.channels import (
    notice_channel,
    notice_payload,
    status_channel,
    status_payload,
    tick_channel,
    tick_payload,
)
from tradefleet.ports.feed import FeedState, FillNotice, PriceTick

MAX_BATCH = 200             # ticks per publish statement (a payload is ~80 bytes each)


class LeaseStore(Protocol):
    async def try_acquire(self, account_key: str, holder_id: str, ttl_seconds: float
                          ) -> int | None: ...
    async def renew(self, account_key: str, token: int) -> bool: ...
    async def release(self, account_key: str, token: int) -> None: ...
    async def publish(self, account_key: str, token: int,
                      messages: Sequence[tuple[str, str]]) -> bool: ...


class RealtimeFeed(Protocol):
    """What the holder needs of ``adapters.kis.ws_feed.KisRealtimeFeed``."""

    state: str

    async def run(self) -> None: ...
    async def stop(self) -> None: ...
    async def subscribe(self, tr_id: str, tr_key: str) -> None: ...
    async def unsubscribe(self, tr_id: str, tr_key: str) -> None: ...


# (on_event, on_state) -> a feed not yet running
OpenFeed = Callable[[Callable[[list], None], Callable[[str, str], None]], RealtimeFeed]
Wanted = Callable[[], Awaitable[set[str]]]


class FeedHolder:
    def __init__(self, store: LeaseStore, *, account_key: str, holder_id: str,
                 open_feed: OpenFeed, wanted: Wanted, ttl_s: float = 3.0,
                 renew_s: float = 0.5, retry_s: float = 0.5, give_up_s: float | None = None,
                 notices: tuple[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not 0 < renew_s < ttl_s / 2:
            raise ValueError(f"renew_s: must be > 0 and < ttl_s / 2, got {renew_s!r}")
        if not retry_s > 0:
            raise ValueError(f"retry_s: must be > 0, got {retry_s!r}")
        give_up_s = max(10.0, 2 * ttl_s) if give_up_s is None else give_up_s
        if not give_up_s > renew_s:
            raise ValueError(f"give_up_s: must be > renew_s, got {give_up_s!r}")
        self._store = store
        self.account_key = account_key
        self.holder_id = holder_id
        self._open_feed = open_feed
        self._wanted = wanted
        self.ttl_s, self.renew_s, self.retry_s = ttl_s, renew_s, retry_s
        self.give_up_s = give_up_s
        self._notices = notices
        self.gave_up = 0           # leases given up because the feed would not come up
        self._down_since: float | None = None
        self._now = monotonic
        self.lease = Lease(ttl_s, margin_seconds=min(1.0, ttl_s * 0.25), monotonic=monotonic)
        self.token: int | None = None
        self.elected = asyncio.Event()
        self.published = 0
        self.refused = 0           # publishes the database refused (the lease was gone)
        self.dropped = 0           # ticks not published because the local lease had lapsed
        self._queue: asyncio.Queue[PriceTick | FillNotice | None] = asyncio.Queue()
        # (None in the queue: the feed's state changed)
        self._feed_state: tuple[str, str] = ("down", "not connected yet")
        self._lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._log = structlog.get_logger("tradefleet.feed").bind(holder_id=holder_id)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                token = await self._store.try_acquire(self.account_key, self.holder_id,
                                                      self.ttl_s)
            except Exception as exc:  # noqa: BLE001 - the database may be restarting
                self._log.warning("feed lease: election failed; retrying",
                                  error_type=type(exc).__name__, error=str(exc))
                token = None
            if token is None:
                await self._wait(self.retry_s)
                continue
            if await self._hold(token) == "gave up":
                await self._wait(self.give_up_s)     # another candidate's turn

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    async def _hold(self, token: int) -> str:
        sent_at = self._now()
        self._down_since = sent_at
        self._feed_state = ("down", "not connected yet")
        why = "lease lost"
        self.lease.grant(token, sent_at)
        self.token = token
        self._lost.clear()
        self._queue = asyncio.Queue()
        self._log.info("feed lease won: this process holds the account's feed", token=token)
        feed = self._open_feed(self._on_event, self._on_feed_state)
        tasks = [asyncio.create_task(feed.run()), asyncio.create_task(self._publish_loop(token))]
        self.elected.set()
        subscribed: set[str] = set()
        try:
            if self._notices is not None:
                try:
                    await feed.subscribe(*self._notices)
                except Exception as exc:  # noqa: BLE001 - fills then come by the follower
                    self._log.warning("fill notice registration refused; fills are learned "
                                      "by the order follower", error=str(exc))
            while not self._stop.is_set() and not self._lost.is_set():
                if self._not_live_too_long():
                    why = "gave up"
                    break
                subscribed = await self._sync(feed, subscribed)
                await self._publish_status(token)
                await self._wait_lost(self.renew_s)
                if self._stop.is_set() or self._lost.is_set():
                    break
                if not await self._renew(token):
                    break
        finally:
            self.lease.revoke()
            self.elected.clear()
            await feed.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._stop.is_set() or why == "gave up":
                with contextlib.suppress(Exception):
                    await self._store.release(self.account_key, token)
            why = "stopping" if self._stop.is_set() else why
            self._log.info("feed lease given up", token=token, why=why)
        return why

    def _not_live_too_long(self) -> bool:
        if self._down_since is None or self._now() - self._down_since <= self.give_up_s:
            return False
        self.gave_up += 1
        self._log.warning("feed not live since the lease was won or went down: giving the "
                          "lease up for another holder", give_up_s=self.give_up_s,
                          why=self._feed_state[1])
        return True

    async def _wait_lost(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await asyncio.wait({asyncio.ensure_future(self._stop.wait()),
                                    asyncio.ensure_future(self._lost.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)

    async def _renew(self, token: int) -> bool:
        """True while the lease is ours; a failed statement keeps trying until the local
        lease lapses (nothing is published after that)."""
        sent_at = self._now()
        try:
            if not await self._store.renew(self.account_key, token):
                self._log.warning("feed lease lost: another holder took it or it lapsed",
                                  token=token)
                return False
            self.lease.renew(sent_at)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            self._log.warning("feed lease renewal failed", error_type=type(exc).__name__,
                              error=str(exc), remaining_s=round(self.lease.remaining(), 2))
        if not self.lease.valid():
            self._log.warning("feed lease lapsed locally; stopping the feed", token=token)
            return False
        return True

    async def _sync(self, feed: RealtimeFeed, subscribed: set[str]) -> set[str]:
        try:
            wanted = await self._wanted()
        except Exception as exc:  # noqa: BLE001
            self._log.warning("wanted symbols unreadable; keeping the registrations",
                              error_type=type(exc).__name__, error=str(exc))
            return subscribed
        done = set(subscribed)
        for symbol in sorted(wanted - subscribed):
            try:
                await feed.subscribe(TICK_TR, symbol)
                done.add(symbol)
            except Exception as exc:  # noqa: BLE001 - e.g. the cap: its holder polls
                self._log.warning("tick registration refused; that symbol is polled",
                                  symbol=symbol, error=str(exc))
        for symbol in sorted(subscribed - wanted):
            await feed.unsubscribe(TICK_TR, symbol)
            done.discard(symbol)
        return done

    def _on_feed_state(self, state: str, why: str) -> None:
        """Told to the workers at once (not only at the next renewal): a feed that went down
        sends them back to their polls now."""
        self._feed_state = (state, why)
        if state == "live":
            self._down_since = None
        elif self._down_since is None:
            self._down_since = self._now()
        self._queue.put_nowait(None)

    def _on_event(self, events: list) -> None:
        """Ticks and fills from the feed's reader (order acks and refusals are not fills)."""
        for e in events:
            if isinstance(e, Tick):
                self._queue.put_nowait(PriceTick(e.symbol, e.price, e.at))
            elif isinstance(e, OrderNotice) and e.is_fill and not e.rejected:
                try:
                    self._queue.put_nowait(FillNotice(e.order_no, e.symbol, e.side.value,
                                                      e.qty, e.price, e.time_hms))
                except ValueError as exc:       # a fill the worker could not record
                    self._log.warning("fill notice unusable; the follower records it",
                                      error=str(exc))

    async def _publish_status(self, token: int) -> None:
        state, why = self._feed_state
        fs = FeedState.LIVE if state == "live" else FeedState.DOWN
        await self._publish(token, [(status_channel(self.account_key),
                                     status_payload(fs, why, token))])

    async def _publish_loop(self, token: int) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            if any(t is None for t in batch):
                await self._publish_status(token)
            messages = [(notice_channel(self.account_key), notice_payload(n, token))
                        for n in batch if isinstance(n, FillNotice)]
            messages += [(tick_channel(self.account_key, t.symbol), tick_payload(t, token))
                         for t in batch if isinstance(t, PriceTick)]
            if messages:
                await self._publish(token, messages)

    async def _publish(self, token: int, messages: list[tuple[str, str]]) -> None:
        if not self.lease.valid():
            self.dropped += len(messages)
            self._lost.set()
            return
        try:
            ok = await self._store.publish(self.account_key, token, messages)
        except Exception as exc:  # noqa: BLE001 - a lost batch: the workers poll meanwhile
            self._log.warning("publish failed", error_type=type(exc).__name__, error=str(exc))
            return
        if ok:
            self.published += len(messages)
        else:
            self.refused += len(messages)
            self._log.warning("publish refused by the database: the lease is gone", token=token)
            self._lost.set()
