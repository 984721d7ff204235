"""Replay-only: a replayed worker's market reads (quotes and minute bars) go straight to the
in-memory market while no fault rule is armed, past the metering and the simulated
broker's fault check (issue 21, speed).

A replayed fleet day makes ~270,000 such reads (every scan reads the bars of each symbol
that passes the pre-filters, every exit check its symbol's quotes and bars). Each passed
through ``MeteredBroker`` (a wrapper made per call, a Prometheus histogram's labels and
observation) and ``SimBroker._call`` (the market's fault plan asked for a rule) before
reaching ``SimMarket.quotes`` / ``minute_bars``: about a tenth of the replaying process's
CPU. Why the answer, and everything after it, is the same:

1. ``SimBroker.get_quotes(symbols)`` is ``_call("get_quotes", lambda:
   market.quotes(list(symbols)))`` and ``get_minute_bars(symbol, count)`` is
   ``_call("get_minute_bars", lambda: market.minute_bars(symbol, count))``; ``_call``
   asks ``FaultPlan.take`` for a rule, and with no rule in the plan ``take`` returns None
   without touching anything (no counter, no random draw: both happen only for a matching
   rule), so ``_call`` returns ``action()``, the market's own read, which is what is
   called here (looked up at the call, so the fleet's ``StepReads`` memo answers as it
   would have). With any rule in the plan, armed or spent, the read takes the usual path;
2. neither path suspends the calling task with no rule (``_call`` sleeps only to act out
   a latency or timeout fault), so the tasks of the step run in the same order;
3. ``MeteredBroker`` only observes (an operation, an outcome and the seconds into the
   worker's Prometheus registry): what is left out is the ``get_quotes`` and
   ``get_minute_bars`` samples of ``tradefleet_broker_call_duration_seconds``, which no
   part of a replay reads (a replayed worker serves no metrics page, and wall seconds of
   an in-memory read say nothing about a broker). Every other broker call (orders, their
   reports, buyable quantities, the balance) is metered and fault-checked as before.

Only a worker whose broker is exactly that stack over this day's market is changed
(``MeteredBroker`` over a ``SimBroker`` of ``market``); any other is left as it is and
counted. Live workers never use this: the runner puts it on the workers it builds."""

from __future__ import annotations

from typing import Any

from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker


class BareReads:
    """The fleet's market reads answered by the market itself while the plan is empty."""

    def __init__(self, market: Any) -> None:
        self._market = market
        self.served = 0                 # reads that went straight to the market
        self.unwatched = 0              # workers left as they were (another broker stack)
        # the brokers given the bare reads, by id; held, so that no id is another's later
        self._straight: dict[int, Any] = {}

    def reads_straight(self, broker: Any) -> bool:
        """Whether ``broker`` is one this gave the bare reads (``watch``)."""
        return self._straight.get(id(broker)) is broker

    def unfaulted(self) -> bool:
        """No rule at all in the market's fault plan (1.)."""
        return not self._market.faults.rules()

    def watch(self, worker: Any) -> None:
        """Put the bare reads on ``worker``'s broker (the one its scan and exit checks
        hold), when it is the replay's own stack over this market."""
        metered = getattr(worker, "_broker", None)
        inner = getattr(metered, "_inner", None)
        if type(metered) is not MeteredBroker or type(inner) is not SimBroker \
                or inner.market is not self._market:
            self.unwatched += 1
            return
        market, usual = self._market, metered.__getattr__

        async def get_quotes(symbols: Any) -> Any:
            if self.unfaulted():
                self.served += 1
                return market.quotes(list(symbols))
            return await usual("get_quotes")(symbols)

        async def get_minute_bars(symbol: str, count: int) -> Any:
            if self.unfaulted():
                self.served += 1
                return market.minute_bars(symbol, count)
            return await usual("get_minute_bars")(symbol, count)

        # instance attributes: found before MeteredBroker.__getattr__ is asked
        metered.get_quotes = get_quotes
        metered.get_minute_bars = get_minute_bars
        self._straight[id(metered)] = metered
