"""Deterministic simulated KRX market and account (synchronous engine) plus the async
``SimBroker`` over it.

Public API (also used by the KIS-dialect HTTP simulator):
``SimMarket(seed, *, n_symbols, clock, initial_cash=100_000_000, day=None,
session_open=time(9), session_close=time(15, 30))`` with ``symbols()``, ``quote(symbol)``,
``quotes(symbols=None)``, ``minute_bars(symbol, count)``, ``submit(OrderRequest) -> OrderAck``,
``report(broker_order_id)``, ``find(symbol, side, since)``, ``cancel(broker_order_id)``,
``modify(...)``, ``balance()``, ``buyable_qty(symbol, price)``, ``is_open(at)``, the exchange's
books ``executions()``, ``holdings()``, ``symbol_infos()``, ``books()`` (``ledger.py``),
attributes ``day``, ``open_at``, ``close_at``, ``faults: FaultPlan`` (shared with the HTTP
simulator, see ``faults.py``). Failures are ``domain.errors.OrderRejected``
with KIS-like codes (see ``orders.py``)."""
