"""The broker as the worker's order path sees it: every order POST passes the send guard
first — the local lease, the database fence (row still NEW, lock still held with its
token, worker row still this epoch), then the lease once more before the adapter's call,
and again at the end of whatever the adapter waits for before the wire (a token, the shared
rate budget, an EGW00201 resend: ports/wire_gate.py). A refusal raises SendRefused before
any byte of the order is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tradefleet.domain.errors import SendRefused
from tradefleet.domain.lease import Lease
from tradefleet.domain.orders import OrderAck, OrderRequest
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.wire_gate import wire_gate

FenceCheck = Callable[[str, int | None], Awaitable[bool]]   # (client_order_id, epoch) -> ok


class GuardedBroker:
    def __init__(self, inner: BrokerPort, lease: Lease, fence_holds: FenceCheck) -> None:
        self._inner = inner
        self._lease = lease
        self._fence_holds = fence_holds
        self.refused = 0

    def __getattr__(self, name: str) -> Any:       # reads and cancels go straight through
        return getattr(self._inner, name)

    def _check_lease(self) -> None:
        if not self._lease.valid():
            self.refused += 1
            age = self._lease.age()
            raise SendRefused("TF_LEASE", "lease lapsed: last heartbeat "
                              f"{'never' if age is None else f'{age:.1f}s ago'}, "
                              f"ttl {self._lease.ttl_seconds}s; not sending")

    async def place_order(self, request: OrderRequest) -> OrderAck:
        self._check_lease()
        if not await self._fence_holds(request.client_order_id, self._lease.epoch):
            self.refused += 1
            raise SendRefused("TF_FENCED", "lock, token or epoch of this order is no longer "
                              "current; not sending")
        self._check_lease()
        with wire_gate(self._check_lease):
            return await self._inner.place_order(request)

    async def modify_order(self, broker_order_id: str, broker_branch: str | None, *,
                           price: int, qty: int | None = None) -> OrderAck:
        self._check_lease()
        with wire_gate(self._check_lease):
            return await self._inner.modify_order(broker_order_id, broker_branch, price=price,
                                                  qty=qty)
