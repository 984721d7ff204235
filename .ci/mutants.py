"""Mutation check of the money-relevant code: a hand-listed set of mutants, each a small,
plausible mistake in one place, applied one at a time to a copy of ``src`` and run against
the tests that must notice it. A mutant the tests let through (survived) or a mutant that
no longer applies (its code changed: update the list) fails the check.

    python3 .ci/mutants.py             # every mutant, two at a time
    python3 .ci/mutants.py --list      # what each mutant breaks and which tests guard it
    python3 .ci/mutants.py -k lock     # only mutants whose name contains "lock"

Each mutant runs ``pytest -x`` on its own tests with PYTHONPATH pointing at the mutated copy
(so subprocess tests run the mutant too) and its own PostgreSQL, so two can run at once."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_MUTANT_TIMEOUT_S = 240


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str                 # under src/tradefleet/
    old: str                  # must occur exactly once
    new: str
    tests: tuple[str, ...]
    why: str


SC = "tests/scenarios/"
RECONCILE_FAILED = "tests/operator/test_operator_reconcile_failed.py"
MONEY = "tests/test_money_paths.py::"
FENCE = "tests/test_send_fence.py::"
GUARDS = "tests/test_money_guards.py::"
CHAOS = "tests/test_chaos.py::"
WS = "tests/test_kis_ws_feed.py::"
WSF = "tests/test_kis_ws_frames.py::"
FEED = "tests/test_feed_holder.py::"
TICK = "tests/test_tick_exits.py::"
COVER = "tests/test_tick_cover.py::"
RESERVE = "tests/test_order_reserve.py::"
PLACES = "tests/test_order_places.py::"
M19 = "adapters/postgres/migrations/0019_rate_order_places.sql"
COST = "tests/operator/test_operator_api_cost.py::"
BTPV = "tests/test_backtest_param_version.py::"
OPPV = "tests/operator/test_operator_param_version.py::"
CANCEL_AGE_TEST = "not row.status.is_terminal and age_s >= self._cancel_after"
CANCEL_PAST_TIME = (f"            if {CANCEL_AGE_TEST}:\n"
                    '                self._log.warning("order still open past its time')
MUTANTS = [
    Mutant("entry-stops-at-the-first-refused-lock", "worker/entry.py",
           '''trying next candidate",
                                  symbol=symbol)
                continue''',
           '''trying next candidate",
                                  symbol=symbol)
                return None''',
           (SC + "test_sc004_lock_rejected.py", SC + "test_sc010_lock_race.py"),
           "SC-004/SC-010: a refused lock ends the walk instead of trying the next candidate"),
    Mutant("rejected-buy-keeps-its-lock", "worker/entry.py",
           '''            await self._locks.release_lock(lock, "REJECTED")\n''', "",
           (SC + "test_ec002_rejection.py",),
           "EC-002: a rejected buy leaves its lock held"),
    Mutant("refused-insert-keeps-its-lock", "worker/entry.py",
           '''            await self._locks.release_lock(lock, "ORDER_REFUSED")\n''', "",
           (MONEY + "test_11_refused_guarded_insert_releases_the_lock_and_tries_the_next",),
           "a buy refused by the guarded insert leaves its useless lock held"),
    Mutant("repeated-move-after-a-lost-answer-refused", "services/worker_registry.py",
           "        if row.status is to is not WorkerStatus.IDLE and row.current_symbol == "
           "current_symbol:\n",
           "        if False:\n",
           ("tests/test_lost_transition_answer.py",),
           "a state move whose answer was lost fails every poll after (no liquidation)"),
    Mutant("rejected-sell-releases-the-lock", "worker/cycle.py",
           '''            self._log.warning("sell order rejected; keeping position and lock",
                              symbol=held.lock.symbol, code=order.reject_code)
            return False''',
           '''            self._log.warning("sell order rejected; keeping position and lock",
                              symbol=held.lock.symbol, code=order.reject_code)
            await self._locks.release_lock(held.lock, "REJECTED")
            self.holding = None
            await self.move(WorkerStatus.SCAN, symbol=None, reason="sell rejected")
            return False''',
           (SC + "test_ec002_rejection.py",),
           "EC-002 sell: the spec's literal behaviour (lock freed while the shares are held)"),
    Mutant("risk-breach-does-not-stop-buying", "worker/cycle.py",
           '''        if outcome.blocked:
            self.buying_stopped = True''',
           '''        if outcome.blocked:
            pass''',
           (SC + "test_ec004_risk.py",),
           "EC-004: a risk refusal blocks one order but buying goes on"),
    Mutant("buys-while-an-order-is-open", "worker/cycle.py",
           '''        if await self.paths.open_orders():
            return              # an order of ours is not final yet: buy nothing else''',
           '''        if False:
            return              # an order of ours is not final yet: buy nothing else''',
           (MONEY + "test_3_status_errors_while_tracking_never_abandon_the_order_nor_buy_more",),
           "a worker with an unsettled order buys something else"),
    Mutant("recovery-frees-a-lock-with-an-open-order", "worker/cycle.py",
           "            if symbol not in busy and (taken is None or symbol != taken):",
           "            if taken is None or symbol != taken:",
           (MONEY + "test_restart_with_an_unsettled_entry_keeps_its_lock_and_buys_nothing",),
           "start-up frees the lock of an unresolved buy (the shares may be ours)"),
    Mutant("hold-ignores-liquidation-time", "worker/cycle.py",
           '''        if self.liquidation_due():
            await self.liquidate()
            return''',
           '''        if False:
            await self.liquidate()
            return''',
           (SC + "test_sc008_liquidation.py",),
           "SC-008: a holding worker is not liquidated at 15:15"),
    Mutant("exit-keeps-the-lock", "worker/cycle.py",
           '''        await self._locks.release_lock(held.lock, "EXITED")\n''', "",
           (SC + "test_sc007_exit.py",),
           "SC-007: the lock stays after the position is sold"),
    Mutant("no-lease-check-before-a-send", "worker/guarded_broker.py",
           '''    def _check_lease(self) -> None:
        if not self._lease.valid():''',
           '''    def _check_lease(self) -> None:
        if False:''',
           (MONEY + "test_lapsed_lease_sends_nothing_and_frees_the_lock",),
           "a process whose lease lapsed still sends orders"),
    Mutant("secrets-not-registered-for-redaction", "worker/wiring.py",
           '''    """Every decrypted secret is masked in every later log line."""
''',
           '''    """Every decrypted secret is masked in every later log line."""
    return
''',
           ("tests/test_sec5_kis_paper_tls.py",),
           "§5: the decrypted appkey/appsecret/account are not masked by value"),
    Mutant("risk-ignores-the-expected-loss", "domain/risk.py",
           "    if realized_loss + expected_loss > limits.daily_loss_limit:",
           "    if realized_loss > limits.daily_loss_limit:",
           ("tests/domain/test_risk_liquidation.py",),
           "EC-004: the next entry's possible loss is left out of the daily loss limit"),
    Mutant("size-one-share-over-the-capital-limit", "domain/risk.py",
           "    qty = capital_limit // price\n", "    qty = capital_limit // price + 1\n",
           (SC + "test_sc005_entry.py", "tests/domain/test_risk_liquidation.py"),
           "SC-005: the buy size exceeds capital_limit / price"),
    Mutant("lock-race-overwrites-the-holder", "adapters/postgres/lock_store.py",
           "    ON CONFLICT (symbol) DO NOTHING\n",
           "    ON CONFLICT (symbol) DO UPDATE SET worker_id = EXCLUDED.worker_id\n",
           (SC + "test_sc004_lock_rejected.py", SC + "test_sc010_lock_race.py"),
           "SC-004/SC-010: a second worker takes over a held lock"),
    Mutant("ambiguous-send-marked-rejected", "services/order_service.py",
           '''            row, events = await self._store.mark_unknown(
                order.order_id, f"{type(exc).__name__}: {exc}",
                answered_at=answered)''',
           '''            row, events = await self._store.mark_rejected(
                order.order_id, "UNKNOWN", f"{type(exc).__name__}: {exc}")''',
           (MONEY + "test_2_ambiguous_entry_not_yet_listed_is_followed_held_and_sold",
            "tests/test_order_service.py"),
           "an order that may be at the exchange is treated as never sent"),
    Mutant("liquidation-never-retries", "services/liquidation_service.py",
           "        while remaining > 0 and attempts < self._max_attempts and lock is not None:",
           "        while remaining > 0 and attempts < 1 and lock is not None:",
           (SC + "test_ec003_unfilled.py",),
           "EC-003: an unfilled remainder is not retried"),
    Mutant("pnl-without-fees", "domain/pnl.py",
           "    net = gross - fees - taxes.total\n", "    net = gross - taxes.total\n",
           (SC + "test_sc011_pnl_summary.py",),
           "SC-011: PnL leaves the commissions out"),
    Mutant("stray-shares-adopted-at-first-sight", "services/account_reconciler.py",
           "            if seen.get(symbol) != qty:", "            if False:",
           (MONEY + "test_5_stray_shares_are_adopted_only_once_seen_twice",),
           "shares the broker holds are adopted before a second look (a fill on its way)"),
    Mutant("error-lines-without-stack", "adapters/telemetry/logging.py",
           '''        event_dict["stack"] = "".join(traceback.format_exception(type(exc), exc,
                                                                 exc.__traceback__))''',
           "        pass",
           (SC + "test_ec001_timeout.py", "tests/test_logging.py"),
           "§6.2: error lines lose their stack trace"),
    Mutant("mode-key-not-masked", "adapters/telemetry/redaction.py",
           "    r\"(trading_)?mode)\",", "    r\"(trading_)?xmode)\",",
           ("tests/test_logging.py",),
           "§5.1: a line with a mode field shows the trading mode"),
    Mutant("stop-without-the-exit-transition", "adapters/postgres/worker_store.py",
           '''return [StateTransitionedEvent(worker_id=worker_id, from_status=row["from_status"],
                                       to_status=WorkerStatus.EXIT.value, reason=reason),
                WorkerStoppedEvent(''',
           '''return [WorkerStoppedEvent(''',
           (SC + "test_log_fields.py", "tests/test_worker_registry.py"),
           "§6.2: the transition to EXIT is not logged"),

    # ---- issue 16: the guards the mutation audit found unguarded, each with its test ----
    Mutant("send-without-the-database-fence", "worker/guarded_broker.py",
           "        if not await self._fence_holds(request.client_order_id, self._lease.epoch):",
           "        if False:",
           (FENCE + "test_a_send_whose_lock_was_reclaimed_is_refused_by_the_fence",),
           "a row whose lock was reclaimed is still sent (only the lease is checked)"),
    Mutant("send-fence-ignores-the-lock-token", "adapters/postgres/fenced_order.py",
           "\n                        AND l.fencing_token = o.fencing_token", "",
           (FENCE + "test_a_lock_taken_back_with_a_new_token_does_not_send_the_old_row",),
           "a row written under an old token is sent once the worker took the lock again"),
    Mutant("send-fence-without-the-epoch", "worker/guarded_broker.py",
           "await self._fence_holds(request.client_order_id, self._lease.epoch)",
           "await self._fence_holds(request.client_order_id, None)",
           (FENCE + "test_a_row_of_an_old_epoch_is_not_sent_after_the_worker_registered_again",),
           "a superseded process (older epoch, lease still valid) sends its NEW row"),
    Mutant("send-fence-query-ignores-the-epoch", "adapters/postgres/fenced_order.py",
           "       AND w.epoch = coalesce($2::bigint, w.epoch))",
           "       AND w.epoch >= coalesce($2::bigint, w.epoch))",
           (FENCE + "test_a_row_of_an_old_epoch_is_not_sent_after_the_worker_registered_again",),
           "the fence query lets an older epoch send once the worker row has a newer one"),
    Mutant("no-lease-check-after-the-fence", "worker/guarded_broker.py",
           """        self._check_lease()
        with wire_gate(self._check_lease):
            return await self._inner.place_order(request)""",
           """        with wire_gate(self._check_lease):
            return await self._inner.place_order(request)""",
           (FENCE + "test_a_lease_that_lapses_during_the_fence_check_sends_nothing",),
           "a lease that lapsed while the fence query ran still sends"),
    Mutant("lease-counted-from-the-heartbeat-answer", "worker/timers.py",
           "                lease.renew(sent_at)",
           "                lease.renew(time.monotonic())",
           (FENCE + "test_the_lease_counts_from_when_the_heartbeat_was_sent_not_answered",),
           "a slow heartbeat round trip extends the lease past what the database stamped"),
    Mutant("follower-never-cancels-a-resting-remainder", "services/order_follower.py",
           CANCEL_PAST_TIME,
           CANCEL_PAST_TIME.replace(CANCEL_AGE_TEST, "False"),
           (GUARDS + "test_the_follower_cancels_a_remainder_left_resting",),
           "a limit remainder left resting by its sender stays at the exchange all day"),
    Mutant("follower-cancels-a-young-order", "services/order_follower.py",
           CANCEL_PAST_TIME,
           CANCEL_PAST_TIME.replace(" and age_s >= self._cancel_after", ""),
           (GUARDS + "test_the_follower_cancels_a_remainder_left_resting",),
           "the follower cancels an order its sender is still tracking"),
    Mutant("partial-fill-counted-cumulatively", "adapters/postgres/order_reports.py",
           "    new_qty = report.filled_qty - row.filled_qty\n",
           "    new_qty = report.filled_qty\n",
           (GUARDS + "test_two_increasing_partial_fill_reports_are_both_recorded_once",),
           "a second partial-fill report records the whole cumulative quantity again"),
    Mutant("fill-key-per-order-drops-the-second-partial", "adapters/postgres/order_reports.py",
           'f"{report.broker_order_id}:{report.filled_qty}"',
           'f"{report.broker_order_id}"',
           (GUARDS + "test_two_increasing_partial_fill_reports_are_both_recorded_once",),
           "a second partial fill of one order is taken for a repeat and not recorded"),
    Mutant("refused-liquidation-sell-ends-the-pass", "services/liquidation_service.py",
           "            if row is None:\n                break                     # lock lost",
           "            if row is None or row.status is OrderStatus.REJECTED:\n"
           "                break                     # lock lost",
           (GUARDS + "test_a_refused_liquidation_sell_is_retried_in_the_same_pass",),
           "a refused liquidation sell is not retried in the pass: a false shortfall"),
    Mutant("lookup-takes-a-twin-rows-broker-order", "services/order_service.py",
           " \\\n                    and report.broker_order_id not in taken:",
           ":",
           (GUARDS + "test_twin_rows_only_one_sent_never_share_its_execution",),
           "an unsent row adopts the broker order of its sent twin: its fills count twice"),
    Mutant("orphan-adopted-while-its-order-is-open", "adapters/postgres/orphan_store.py",
           """               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.symbol = p.symbol
                                  AND o.status IN {_OPEN})
""", "",
           (GUARDS + "test_a_dead_workers_position_with_an_open_sell_is_not_sold_twice",),
           "a dead worker's position is adopted and sold while its own sell is still open"),
    Mutant("stray-excess-not-capped-by-our-orders", "services/account_reconciler.py",
           "            excess = min(holding.qty - book.open_qty, possible)",
           "            excess = holding.qty - book.open_qty",
           (GUARDS + "test_a_persons_shares_of_a_symbol_we_bought_and_sold_today_stay",),
           "a person's shares of a symbol our orders traded today are adopted and sold"),
    Mutant("liquidation-due-only-after-its-time", "worker/trading_day.py",
           "        return self.clock.now() >= self.liquidation_at",
           "        return self.clock.now() > self.liquidation_at",
           (GUARDS + "test_liquidation_starts_exactly_at_the_liquidation_time",),
           "at exactly the liquidation time the position is not liquidated (a time exit instead)"),
    Mutant("orphan-seller-secrets-not-masked", "operator/orphan_seller.py",
           "        register_settings_secrets(settings)\n", "",
           ("tests/operator/test_operator_orphans.py::"
            "test_the_paper_orphan_seller_masks_its_decrypted_credentials_in_every_line",),
           "§5: the operator's orphan seller logs its decrypted appkey/appsecret/account"),
    Mutant("lease-granted-from-the-registration-answer", "worker/worker.py",
           "        self.lease.grant(epoch, sent_at)",
           "        self.lease.grant(epoch, time.monotonic())",
           (FENCE + "test_the_lease_counts_from_when_the_registration_was_sent_not_answered",),
           "a slow registration round trip starts the lease later than the database's stamp"),
    # ---- issue 16: the chaos judge of a person trading by hand on the account ----
    Mutant("judge-counts-the-persons-orders-as-unknown", "local_fleet/chaos_judge.py",
           "if _odno(o.odno) not in ours and not person.owns(o.odno)]",
           "if _odno(o.odno) not in ours]",
           (CHAOS + "test_the_judge_flags_a_persons_shares_sold_by_us_and_never_takes_their_"
            "orders_as_ours",),
           "manual_trades: the person's own orders are reported as orders unknown to us"),
    Mutant("judge-counts-the-persons-executions-as-ours", "local_fleet/chaos_judge.py",
           "        if not person.owns(e.odno):", "        if True:",
           (CHAOS + "test_the_judge_flags_a_persons_shares_sold_by_us_and_never_takes_their_"
            "orders_as_ours",),
           "manual_trades: the person's executions are expected to have fills rows of ours"),
    Mutant("judge-splits-holdings-without-the-person", "local_fleet/chaos_person.py",
           "if held.get(s, 0) > person.get(s, 0)}", "if held.get(s, 0) > 0}",
           (CHAOS + "test_the_judge_flags_a_persons_shares_sold_by_us_and_never_takes_their_"
            "orders_as_ours",),
           "manual_trades: the person's shares are counted as shares of ours held at the close"),
    Mutant("person-sells-more-than-it-holds", "local_fleet/chaos_person.py",
           'return symbol, "SELL", min(qty, mine[symbol])', 'return symbol, "SELL", qty',
           (CHAOS + "test_a_person_never_sells_more_than_it_holds_and_trades_both_sides",),
           "manual_trades: the simulated person sells shares it does not hold"),
    Mutant("recovery-check-ignores-the-person", "local_fleet/chaos_watch.py",
           "    if person is None or not person.active:", "    if True:",
           (CHAOS + "test_manual_trades_sends_orders_by_hand_that_the_judge_tells_apart",),
           "manual_trades: the person's holdings make every run look never recovered"),
    Mutant("tick-exit-without-the-cycles-turn", "worker/tick_exits.py",
           "        async with cycle.turn:\n            held = cycle.holding\n",
           "        if True:\n            held = cycle.holding\n",
           (TICK + "test_a_tick_that_crosses_an_exit_waits_for_the_polls_turn",),
           "issue 20: a tick and a poll (or two ticks) both sell one position"),
    Mutant("tick-cover-any-age", "worker/tick_cover.py",
           "        if self._monotonic() - last.seen > self._fresh_s:",
           "        if False:",
           (COVER + "test_a_tick_older_than_the_bound_leaves_the_poll_to_rest",),
           "issue 20: the poll judges on a tick from a feed long gone quiet"),
    Mutant("tick-cover-any-minute", "worker/tick_cover.py",
           "        if session_minute(now) != last.minute:", "        if False:",
           (COVER + "test_a_tick_of_an_earlier_minute_leaves_the_poll_to_rest",),
           "issue 20: the poll judges on a trend average a closed bar has moved"),
    Mutant("tick-cover-any-symbol", "worker/tick_cover.py",
           "        if last is None or last.symbol != symbol:", "        if last is None:",
           (COVER + "test_a_tick_of_another_symbol_leaves_the_poll_to_rest",),
           "issue 20: the poll judges the held position on another symbol's price"),
    Mutant("tick-cover-kept-with-the-feed-off", "worker/tick_exits.py",
           "            self._cycle.watch.ticks.lapse()", "            pass",
           (COVER + "test_the_feed_going_off_takes_the_tick_back_from_the_poll",),
           "issue 20: the feed goes off and the poll still judges on its last tick"),
    Mutant("tick-cover-lent-while-not-live", "worker/tick_exits.py",
           "        if self._live and known:", "        if known:",
           (COVER + "test_a_tick_judged_while_the_feed_is_not_live_is_not_lent",),
           "issue 20: a tick judged off the live feed stands in for the poll's reads"),
    Mutant("tick-cover-lent-without-its-bars", "worker/tick_exits.py",
           "        known = self._ma is not None and self._ma[:2] == (tick.symbol, "
           "session_minute(tick.at))",
           "        known = True",
           (COVER + "test_a_tick_judged_without_its_bars_is_not_lent",),
           "issue 20: a tick whose trend average was unreadable stands in for the poll's"),
    Mutant("tick-cover-never-used", "worker/cycle_parts.py",
           "        tick = self.ticks.fresh(symbol, self._clock.now())",
           "        tick = None",
           (COVER + "test_a_fresh_tick_below_the_stop_sells_on_the_poll_with_no_rest_read",
            COVER + "test_ticks_judged_on_the_live_feed_are_lent_to_the_poll"),
           "issue 20: a holding worker's poll spends REST reads the live feed made needless"),
    Mutant("tick-exit-reads-bars-before-the-stop", "worker/tick_exits.py",
           "        if on_price.reason in PRICE_FIRST:", "        if False:",
           (TICK + "test_a_tick_below_the_stop_sells_with_no_bar_read_on_its_way",),
           "issue 20: a stop crossed on the tick waits for a minute-bar read before the wire"),
    Mutant("rate-window-reads-take-the-reserve", "adapters/kis/rate_window.py",
           "            while not self._fits(self.per_second - self.reserve):",
           "            while not self._fits(self.per_second):",
           (RESERVE + "test_in_process_reads_leave_the_reserve_and_an_order_passes_them",),
           "issue 20: the fleet's reads fill the second and a sell on a stop waits behind them"),
    Mutant("rate-window-orders-queue-behind-reads", "adapters/kis/rate_window.py",
           "        if order:\n            while not self._fits(self.per_second):",
           "        if False:\n            while not self._fits(self.per_second):",
           (RESERVE + "test_in_process_reads_leave_the_reserve_and_an_order_passes_them",),
           "issue 20: an order waits in the queue of reads for the limiter"),
    Mutant("rate-window-orders-past-the-limit", "adapters/kis/rate_window.py",
           "        if order:\n            while not self._fits(self.per_second):",
           "        if order:\n            while False:",
           (RESERVE + "test_in_process_reads_leave_the_reserve_and_an_order_passes_them",),
           "issue 20: orders are sent past the account's limit (EGW00201)"),
    Mutant("budget-reads-take-the-reserve", "adapters/postgres/rate_budget.py",
           "limit=self._read_limit, want=self._batch)", "limit=self._limit, want=self._batch)",
           (RESERVE + "test_the_fleets_budget_keeps_the_reserve_for_orders",),
           "issue 20: the fleet's reads take the places kept for orders"),
    Mutant("budget-orders-held-to-the-reads-part", "adapters/postgres/rate_budget.py",
           "limit=self._limit, want=1, order=True)",
           "limit=self._read_limit, want=1, order=True)",
           (RESERVE + "test_the_fleets_budget_keeps_the_reserve_for_orders",
            PLACES + "test_an_order_past_the_reads_part_is_granted_by_the_fallback"),
           "issue 20: an order is refused a place the reads left for it"),
    Mutant("budget-shares-reach-into-the-reserve", "adapters/postgres/rate_budget.py",
           "LeasedShare(db, key, limit=self._read_limit,",
           "LeasedShare(db, key, limit=limit_per_second,",
           (RESERVE + "test_a_share_that_would_reach_into_the_reserve_waits_for_reads_to_age_out",),
           "issue 20: a leased share (spent by reads) starts inside the orders' places"),
    Mutant("kis-client-orders-sent-as-reads", "adapters/kis/client.py",
           "self._limiter.slot(order=is_order)", "self._limiter.slot(order=False)",
           (RESERVE + "test_an_order_post_passes_reads_waiting_for_the_budget",),
           "issue 20: the client asks for an order's place as for a read"),
    Mutant("metered-limiter-drops-the-order", "adapters/telemetry/metered_limiter.py",
           "            async with self._inner.slot(order=order):",
           "            async with self._inner.slot():",
           (RESERVE + "test_in_process_slots_keep_the_reserve_too",),
           "issue 20: the worker's metered limiter asks every place as a read"),
    Mutant("pushed-fill-never-wakes-the-tracker", "services/order_service.py",
           "            self._settled.settled(row.order_id)        # its tracker need not ask "
           "the broker",
           "            pass",
           ("tests/test_order_settled.py::"
            "test_a_pushed_fill_ends_the_senders_tracking_without_the_brokers_answer",),
           "issue 20: the entry poll (and the cycle's turn) waits for a broker read of a fill "
           "the push already recorded"),
    Mutant("tracker-never-listens-for-the-push", "services/order_service.py",
           "        if settled.is_set():\n            return SETTLED\n",
           "        return await self._lookup_quietly(row)\n",
           ("tests/test_order_settled.py::"
            "test_a_pushed_fill_ends_the_senders_tracking_without_the_brokers_answer",),
           "issue 20: the tracker waits for its lookup whatever the push said"),
    Mutant("reclaimers-at-once", "adapters/postgres/lock_store.py",
           "            await conn.execute(RECLAIMERS_TAKE_TURNS)\n", "",
           ("tests/test_lock_reclaim.py::test_reclaimers_take_turns",),
           "two reclaimers delete each other's locks in opposite orders: a deadlock aborts one"),
    Mutant("early-notice-waits-for-the-timer", "worker/fill_notices.py",
           "            await self._orders.next_answer(delay, since=seen)",
           "            await asyncio.sleep(delay)",
           ("tests/test_order_settled.py::"
            "test_a_notice_before_our_answer_is_recorded_as_the_answer_is_written",),
           "issue 20: a fill pushed before our order's answer waits for a retry timer"),
    Mutant("answer-written-wakes-nobody", "services/order_service.py",
           "            self._answers.answer_written()\n", "",
           ("tests/test_order_settled.py::"
            "test_a_notice_before_our_answer_is_recorded_as_the_answer_is_written",),
           "issue 20: writing an order's answer does not wake the notices waiting for it"),
    Mutant("tick-exit-ignores-the-lease", "worker/tick_exits.py",
           "                    or not self._may_trade() or cycle.liquidation_due()):",
           "                    or cycle.liquidation_due()):",
           (TICK + "test_no_decision_on_the_tick_while_the_lease_lapsed",),
           "issue 20: a worker whose lease lapsed decides (and writes a sell) on a tick"),
    Mutant("tick-exit-ignores-a-followed-order", "worker/tick_exits.py",
           "            if any(o.symbol == tick.symbol for o in await cycle.paths.open_orders()):",
           "            if False:",
           (TICK + "test_no_sell_on_the_tick_while_an_order_on_the_symbol_is_followed",),
           "issue 20: a tick writes a second sell while the first is still being followed"),
    Mutant("tick-exit-sells-at-liquidation-time", "worker/tick_exits.py",
           "                    or not self._may_trade() or cycle.liquidation_due()):",
           "                    or not self._may_trade()):",
           (TICK + "test_liquidation_time_is_the_polls_not_the_ticks",),
           "issue 20: a tick sells beside the liquidation pass (its order, its retries)"),
    Mutant("feed-publish-not-fenced-by-the-database", "adapters/postgres/feed_lease_store.py",
           "         WHERE holds.ok) AS sent", ") AS sent",
           (FEED + "test_one_holder_at_a_time_and_a_lapsed_holder_cannot_publish",),
           "issue 20: a holder whose lease lapsed (frozen) still reaches the workers"),
    Mutant("feed-publish-without-the-local-lease", "feed/holder.py",
           "        if not self.lease.valid():\n            self.dropped",
           "        if False:\n            self.dropped",
           (FEED + "test_a_holder_whose_local_lease_lapsed_publishes_nothing",),
           "issue 20: a holder woken past its local lease publishes before it renews"),
    Mutant("feed-lease-renewed-after-it-lapsed", "adapters/postgres/feed_lease_store.py",
           "   AND renewed_at > now() - make_interval(secs => ttl_seconds)\nRETURNING",
           "RETURNING",
           (FEED + "test_one_holder_at_a_time_and_a_lapsed_holder_cannot_publish",),
           "issue 20: a frozen holder revives a lapsed lease instead of standing again"),
    Mutant("feed-election-takes-a-live-lease", "adapters/postgres/feed_lease_store.py",
           " WHERE feed_holders.renewed_at <= now() - make_interval(secs => "
           "feed_holders.ttl_seconds)\n", "",
           (FEED + "test_one_holder_at_a_time_and_a_lapsed_holder_cannot_publish",),
           "issue 20: two holders of one account's feed at once"),
    Mutant("listener-hears-a-superseded-holder", "feed/listener.py",
           "        if token < self._token:", "        if False:",
           (FEED + "test_a_tick_of_a_superseded_holder_heard_late_is_dropped",),
           "issue 20: a tick of the old holder delivered after the new one's is acted on"),
    Mutant("listener-never-listens-again", "feed/listener.py",
           "        if self._reconnect is None or self._reconnect.done():",
           "        if False:",
           (FEED + "test_a_listener_cut_off_from_the_database_says_down_and_comes_back",),
           "issue 20: one database blip leaves a worker on the poll for the rest of the day"),
    Mutant("listener-live-on-an-old-heartbeat", "feed/listener.py",
           "        self._conn = None\n        self._status = None\n",
           "        self._conn = None\n",
           (FEED + "test_a_listener_cut_off_from_the_database_says_down_and_comes_back",),
           "issue 20: ticks trusted after a reconnect before any holder was heard on it"),
    Mutant("worker-feed-never-started", "commands/worker.py",
           "    if not settings.feed.enabled:\n        return None\n",
           "    return None\n",
           ("tests/test_feed_worker_process.py",),
           "issue 20: feed.enabled is read and nothing runs: every exit waits for the poll"),
    Mutant("worker-feed-kept-past-the-workers-exit", "worker/feed_runtime.py",
           "                self.parts.holder.stop()           # a clean stop releases the lease",
           "                pass",
           ("tests/test_feed_worker_process.py",),
           "issue 20: an exited worker's feed lease blocks the account's feed for its ttl"),
    Mutant("worker-feed-failure-not-retried", "worker/feed_runtime.py",
           "            except Exception as exc:  # noqa: BLE001 - the feed never stops the "
           "worker\n",
           "            except Exception as exc:  # noqa: BLE001 - the feed never stops the "
           "worker\n                raise\n",
           ("tests/test_feed_runtime.py",),
           "issue 20: one database blip at start-up leaves the worker without its feed all day"),
    Mutant("worker-feed-mode-not-on-the-gauge", "commands/worker.py",
           "        metrics.set_feed_live(live)\n", "        pass\n",
           ("tests/test_feed_worker_process.py",),
           "issue 20: /metrics says polling while exits are decided on each tick"),
]

# ---- issue 16, money paths II (a person on the account, orders back after being given up,
# the window before the wire): appended here, one block, so parallel edits above never clash
PERSON = "tests/test_person_on_account.py::"
LATE = "tests/test_late_orders.py::"
MUTANTS += [
    Mutant("stray-count-takes-the-quantity-of-final-buys", "adapters/postgres/orphan_store.py",
           "coalesce(sum(CASE WHEN {_FILL_UNKNOWN} THEN o.qty",
           "coalesce(sum(CASE WHEN true THEN o.qty",
           (PERSON + "test_our_rejected_buy_never_makes_a_persons_shares_ours",
            PERSON + "test_a_partly_filled_entry_makes_only_its_own_fill_ours"),
           "issue 16 #1: a rejected or partly filled BUY counts its whole quantity as ours, "
           "and a person's shares are adopted and sold"),
    Mutant("stray-count-takes-never-sent-expired-rows", "adapters/postgres/orphan_store.py",
           "OR (o.status = 'EXPIRED' AND o.sent_at IS NOT NULL))",
           "OR o.status = 'EXPIRED')",
           (PERSON + "test_recovery_never_claims_a_persons_earlier_order_of_the_same_size",),
           "issue 16 #1/#2: a row expired while NEW (never attempted) still counts its "
           "quantity, and a person's shares are adopted and sold at the close"),
    Mutant("lookup-from-the-start-of-the-day", "services/order_service.py",
           "        if order.written_at is None:\n            return datetime.combine(",
           "        if True:\n            return datetime.combine(",
           (PERSON + "test_recovery_never_claims_a_persons_earlier_order_of_the_same_size",),
           "issue 16 #2: a restarted worker's lookup searches the whole day and claims a "
           "person's earlier order of the same size"),
    Mutant("lookup-ignores-the-echoed-client-id", "services/order_service.py",
           "            if report.client_order_id == order.client_order_id:",
           "            if False:",
           (PERSON + "test_an_echoed_client_order_id_wins_over_an_earlier_order_of_the_same_size",),
           "issue 16 #2: the broker echoes our client order id and the lookup still takes "
           "the oldest order of the same size (a person's)"),
    Mutant("lost-answer-leaves-an-expired-row-expired", "adapters/postgres/order_store.py",
           "OR (status = 'EXPIRED' AND filled_qty = 0\n",
           "OR (false AND filled_qty = 0\n",
           (LATE + "test_an_expired_sell_sent_late_with_its_answer_lost_is_recorded_once",),
           "issue 16 #3: a row expired, then sent after all with its answer lost, is never "
           "followed: an unrecorded execution and a phantom position"),
    Mutant("expired-rows-never-looked-up-again", "services/order_follower.py",
           "        settled += await self._recheck_expired(worker_id)\n", "",
           (LATE + "test_an_expired_sell_the_list_shows_after_the_grace_is_recorded",),
           "issue 16 #3: EXPIRED is final although the broker's list showed the order late"),
    Mutant("expired-row-shown-working-stays-expired", "adapters/postgres/order_reports.py",
           "    reopened = row.status is OrderStatus.EXPIRED and not report.is_done",
           "    reopened = False",
           (LATE + "test_an_expired_order_the_broker_shows_still_resting_is_reopened_and_"
                   "cancelled",),
           "issue 16 #3: an EXPIRED order the broker shows still working stays EXPIRED "
           "(its broker id attached): its remainder rests unfollowed and may fill unrecorded"),
    Mutant("late-sell-fill-to-any-workers-position", "adapters/postgres/position_store.py",
           "AND adopted_from = $2 ORDER BY position_id",
           "AND (adopted_from = $2 OR $2 IS NOT NULL) ORDER BY position_id",
           (LATE + "test_a_late_sell_fill_lands_in_the_senders_position_under_its_adopter",),
           "issue 16: a SELL fill of a sender whose position was adopted lands in the "
           "symbol's oldest open position, another worker's"),
    Mutant("broker-clock-skew-not-learned", "services/order_service.py",
           "            self._note_broker_time(ack.accepted_at)\n", "",
           (LATE + "test_a_clock_ahead_of_the_brokers_never_hides_our_own_order",),
           "issue 16: a local clock ahead of the broker's past the margin hides our own "
           "order from its lookup; it is judged never sent"),
    Mutant("lease-not-checked-at-the-wire", "adapters/kis/client.py",
           "                check_wire_gate()", "                pass",
           ("tests/test_wire_gate.py",),
           "issue 16: a lease that lapses while a KIS order waits (token, rate budget, "
           "EGW00201 resend) no longer stops the send"),

    # ---- issue 17: start-up imports ----
    Mutant("worker-command-imports-every-command", "cli.py",
           "    chosen = argv[0] if argv and argv[0] in COMMANDS else None",
           "    chosen = None",
           ("tests/test_worker_startup_imports.py",),
           "issue 17: `tradefleet worker` imports the operator, demo and report at start-up"),
    Mutant("tracing-off-still-imports-the-sdk", "adapters/telemetry/tracing.py",
           "    if exporter is None and chosen is None:\n        return None\n",
           "",
           ("tests/test_worker_startup_imports.py",),
           "issue 17: a worker with tracing off imports the OpenTelemetry SDK at start-up"),
    Mutant("structlog-imports-rich", "adapters/telemetry/lean_structlog.py",
           "    hidden = [name for name in OPTIONAL_EXTRAS if name not in sys.modules]",
           "    hidden = []",
           ("tests/test_worker_startup_imports.py",),
           "issue 17: structlog pulls rich and pygments into every worker's start-up"),
]

# --- issue 17 item 1: the entry cutoff and the scan's freshness (branch cutoff) ------------
CUTOFF = SC + "test_entry_cutoff.py"
MUTANTS += [
    Mutant("entry-ignores-the-cutoff", "worker/entry_gate.py",
           "        if now >= day.entry_closes_at:", "        if False:",
           (CUTOFF,),
           "a poll that began before the entry cutoff buys after it (slow scan or entry)"),
    Mutant("entry-trades-on-a-stale-scan", "worker/entry_gate.py",
           "        if age > day.scan_max_age:", "        if False:",
           (CUTOFF,),
           "an entry is written on quotes older than risk.scan_max_age_seconds"),
    Mutant("cutoff-is-the-liquidation-time", "worker/trading_day.py",
           "        return self.liquidation_at - self.entry_cutoff",
           "        return self.liquidation_at",
           (CUTOFF,),
           "entries go on until the liquidation itself (the issue-17 demo's 15:14 buy)"),
    Mutant("refused-entry-keeps-its-lock", "worker/entry.py",
           "                await self._locks.release_lock(lock, refused)\n", "",
           (CUTOFF,),
           "a buy refused by the entry gate leaves its lock held"),
    Mutant("scan-poll-ignores-the-cutoff", "worker/cycle.py",
           "        if self.day.entry_closed():", "        if False:",
           (CUTOFF,),
           "past the entry cutoff the worker still scans (and asks the gate every poll)"),
    Mutant("cutoff-shorter-than-a-liquidation-accepted", "settings/model.py",
           "        if value < LIQUIDATION_NEEDS_MINUTES:", "        if False:",
           ("tests/test_settings.py",),
           "an entry cutoff shorter than the time a liquidation needs is accepted"),

    # ---- issue 17: shared scans ----
    Mutant("shared-scan-claim-never-expires", "adapters/postgres/shared_scan_store.py",
           "WHERE shared_scans.result IS NULL AND shared_scans.claim_expires_at < now()",
           "WHERE shared_scans.result IS NULL AND false",
           ("tests/test_shared_scans.py",),
           "item 3 of issue 17: a claimer killed mid-scan stalls its account's scans for good"),
    Mutant("shared-scan-claim-not-waited-for", "services/shared_scan.py",
           """                    oldest_taken = min(oldest_taken, latest.window)
                    await asyncio.sleep(pause)
                    pause = min(WAIT_POLL_MAX_SECONDS, pause * 1.5)
                    continue
""", "                    pass\n",
           ("tests/test_shared_scans.py",),
           "item 3 of issue 17: workers of one account each compute the scan again"),
    # ---- issue 19 (op19a) ----------------------------------------------------------------
    Mutant("degraded-drops-the-pause", "operator/reconcile.py",
           '''        actions.append(WriteControls(paused=True))
        notes.append("spec.paused: buying paused''',
           '''        notes.append("spec.paused: buying paused''',
           ("tests/operator/test_operator_reconcile.py",
            "tests/operator/test_operator_degraded_pause.py"),
           "issue 19/2: pausing a Degraded worker whose pod runs never reaches Postgres"),
    Mutant("degraded-pause-unread-from-an-invalid-spec", "operator/plan.py",
           "else self.paused is True", "else False",
           ("tests/operator/test_operator_reconcile.py",
            "tests/operator/test_operator_degraded_pause.py"),
           "issue 19/2: a pause in a spec that fails to parse is dropped"),
    Mutant("degraded-pause-writes-another-namespaces-row", "operator/reconcile.py",
           'own_row = not any(p.reason == "WorkerIdTaken" for p in desired.problems)',
           "own_row = True",
           ("tests/operator/test_operator_reconcile.py",),
           "issue 19/2: a refused duplicate name pauses the other namespace's worker"),
    Mutant("status-paused-ignores-what-the-pass-wrote", "operator/status.py",
           "            return action.paused\n", "            break\n",
           ("tests/operator/test_operator_status.py",),
           "issue 19/2: Trading says Paused though nothing was written"),
    Mutant("restart-hash-includes-the-log-level", "operator/pods.py",
           "    return name not in NO_RESTART_ENV and not name.startswith(NO_RESTART_ENV_PREFIXES)",
           "    return True",
           ("tests/operator/test_operator_rollout.py::"
            "test_log_level_and_otel_need_no_restart_but_the_image_does",),
           "issue 19/4: a new log level or OTEL setting restarts every worker"),
    Mutant("restarts-not-paced", "operator/rollout.py",
           "if key in self._holders or len(self._holders) < self._max:", "if True:",
           ("tests/operator/test_operator_rollout.py",),
           "issue 19/4: every worker replaces its pod at once"),
    Mutant("restart-takes-no-slot", "operator/rollout.py",
           "        if plan.restarting:\n", "        if False:\n",
           ("tests/operator/test_operator_rollout.py",),
           "issue 19/4: a started restart does not count against the limit"),
    Mutant("restart-slot-freed-before-ready", "operator/rollout.py",
           "    return (bool(pods) and pods[-1].ready", "    return (bool(pods) or pods[-1].ready",
           ("tests/operator/test_operator_rollout.py",),
           "issue 19/4: the next restart starts before the last new pod is Ready"),
    Mutant("restart-window-ignored", "operator/reconcile.py",
           'config.restart_window == "OutsideTradingHours" and s is not None',
           'False and s is not None',
           ("tests/operator/test_operator_rollout.py",),
           "issue 19/4: restartWindow OutsideTradingHours replaces pods mid-session"),
    Mutant("held-restart-not-shown", "operator/status.py",
           "    hold = plan.restart_pending\n", "    hold = None\n",
           ("tests/operator/test_operator_rollout.py",),
           "issue 19/4: kubectl describe does not say why a worker has not restarted"),
    Mutant("operator-liveness-asks-postgres", "operator/health.py",
           '        return web.json_response({"status": "ok"})',
           '        return web.json_response({"status": str(await db_now())})',
           ("tests/operator/test_operator_health.py",),
           "issue 19/7: a database outage fails liveness and crash-loops the operator"),
    Mutant("operator-readiness-ignores-postgres", "operator/health.py",
           "            now = await asyncio.wait_for(db_now(), timeout_s)",
           '            now = "not asked"',
           ("tests/operator/test_operator_health.py",),
           "issue 19/7: readiness says Ready while the operator cannot reconcile"),
    Mutant("schedule-check-counts-every-worker", "operator/schedule_controller.py",
           "        holdings = await self._fleet.holdings(scope)\n",
           "        holdings = await self._fleet.holdings(None)\n",
           ("tests/operator/test_operator_schedule_followup.py",),
           "issue 19/5: workers outside the schedule's scope make its check NotFlat"),
    Mutant("orphan-seller-not-resumed", "operator/schedule_controller.py",
           "        elif run is not None and run.checked_at is None:\n"
           "            await self._resume_seller(body, name, spec, now)\n", "",
           ("tests/operator/test_operator_schedule_followup.py",),
           "issue 19/5: an operator restart before the close loses the orphan seller"),
    Mutant("lost-seller-check-says-flat", "operator/schedule_controller.py",
           ' and "unverified" not in detail\n', "\n",
           ("tests/operator/test_operator_schedule_followup.py",),
           "issue 19/5: a check that could not see the account reports Flat"),
    Mutant("lost-seller-account-unasked-after-the-close", "operator/schedule_controller.py",
           "        if seller is None and spec.orphans is not None and self._orphan_selling",
           "        if False and spec.orphans is not None and self._orphan_selling",
           ("tests/operator/test_operator_schedule_followup.py",),
           "issue 19/5: an operator back after the close does not look at the account"),
    # ---- issue 19 (op19b) ----------------------------------------------------------------
    Mutant("schedule-offset-inside-the-closing-auction", "operator/resources.py",
           "    offset_minutes: int = Field(15, ge=10, le=60)",
           "    offset_minutes: int = Field(15, ge=1, le=60)",
           ("tests/operator/test_operator_admission.py",),
           "issue 19/10: a schedule offset the calendar clamps is run as if it were not"),
    Mutant("orphans-real-over-http", "operator/resources.py",
           '''        if self.mode == "real" and not self.broker.base_url.startswith("https://"):
            raise ValueError("broker.baseUrl: real mode talks to the broker over https only")
        return self''',
           "        return self",
           ("tests/operator/test_operator_admission.py",),
           "issue 19/10: the orphan seller trades real money over plain http"),
    Mutant("every-release-runs-every-schedule", "operator/ownership.py",
           "    return owner is None or owner == operator_name",
           "    return True",
           ("tests/operator/test_operator_schedule_owner.py",),
           "issue 19/8: two releases both fire a schedule and overwrite its status"),
    Mutant("unowned-schedule-runs", "operator/schedule_controller.py",
           "        if spec.operator is None:\n",
           "        if False:\n",
           ("tests/operator/test_operator_schedule_owner.py",),
           "issue 19/8: a schedule naming no operator is run by every release"),
    Mutant("worker-placement-dropped", "operator/pods.py",
           "    apply_placement(body, config.worker_placement)\n", "",
           ("tests/packaging/test_chart_operations.py",),
           "issue 19/12: the chart's worker priorityClassName, affinity and tolerations are lost"),
    Mutant("fleet-tolerations-replace-the-workers-own", "operator/placement.py",
           "        own = list(body.get(\"tolerations\") or [])",
           "        own = []",
           ("tests/packaging/test_chart_operations.py",),
           "issue 19/12: a TradingWorker's own tolerations are dropped by the fleet's"),
    Mutant("uninstall-guard-lets-workers-be-stranded", "operator/uninstall_guard.py",
           "    if not left:\n        return None", "    if left or not left:\n        return None",
           ("tests/operator/test_operator_uninstall_guard.py",),
           "issue 19/12: helm uninstall removes the operator while TradingWorkers hold shares"),
    Mutant("schedule-events-posted-in-default", "operator/login.py",
           "    if info is None or info.default_namespace or not namespace:",
           "    if True:",
           ("tests/operator/test_operator_login.py",),
           "issue 18: LiquidationSchedule Events go to `default` and the real API refuses them"),
    Mutant("worker-pods-without-the-calendar-configmap", "operator/pods.py",
           "    mount_calendar(body, config.worker_calendar_configmap)\n", "",
           ("tests/packaging/test_chart_operations.py",),
           "issue 19/11: worker pods never see the chart's calendar overrides"),
    Mutant("workers-ignore-the-mounted-calendar-overrides", "adapters/calendar_cache.py",
           "        extra_overrides = overrides_from_environment()",
           "        extra_overrides = None",
           ("tests/packaging/test_chart_operations.py",),
           "issue 19/11: an ad-hoc closure in the ConfigMap does not reach the worker's calendar"),
    Mutant("refused-pod-leaves-no-degraded-status", "operator/worker_controller.py",
           "actions=kept,\n                               degraded=problem,",
           "actions=kept,\n                               degraded=None,",
           ("tests/operator/test_operator_pod_refused.py",),
           "a pod refused by a ResourceQuota leaves the TradingWorker without a Degraded "
           "condition or Event naming the cause"),
]

FORKED = "tests/test_forked_workers.py::"
MUTANTS += [
    Mutant("forked-worker-keeps-the-servers-environment", "local_fleet/forked_start.py",
           "    os.environ.clear()\n", "",
           (FORKED + "test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log",),
           "a forked worker sees the fork server's environment beside its own"),
    Mutant("forked-worker-shares-the-servers-session", "local_fleet/forked_start.py",
           "    os.setsid()\n", "",
           (FORKED + "test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log",),
           "a forked worker stays in the fork server's process group: a signal to its "
           "group reaches the server and every other worker"),
    Mutant("forked-worker-writes-to-the-servers-output", "local_fleet/forked_start.py",
           "    _redirect(log_path)\n", "",
           (FORKED + "test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log",),
           "a forked worker's output goes to the fork server's stdout, not its log file"),
    Mutant("forked-worker-never-collects-garbage", "local_fleet/forked_start.py",
           "    gc.enable()             # off in the server while it imported (worker_preload)\n",
           "", (FORKED + "test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log",),
           "a forked worker inherits the server's disabled collector: its cycles are never "
           "freed"),
    Mutant("fork-server-leaves-its-imports-unfrozen", "commands/worker_preload.py",
           "\ngc.freeze()\n", "\n",
           (FORKED + "test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log",),
           "a full collection in each forked worker copies the server's objects (~20 MB)"),
    Mutant("chaos-drops-the-fleet-start-method", "commands/chaos.py",
           'if k.startswith("TRADEFLEET_") and k != START_ENV]', 'if k.startswith("TRADEFLEET_")]',
           (FORKED + "test_chaos_keeps_the_start_method_for_its_workers",),
           "TRADEFLEET_FLEET_START=spawn is cleared with the workers' settings: chaos forks"),
    Mutant("demo-checks-the-start-method-after-writing", "commands/demo.py",
           "        fleet_start_method()            # checked before anything is started or "
           "written\n", "",
           (FORKED + "test_a_bad_start_method_stops_the_command_before_anything_is_written",),
           "a bad TRADEFLEET_FLEET_START is found only after the demo's database was made"),
    Mutant("fork-server-starts-openblas-threads", "commands/worker_preload.py",
           'os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")\n', "",
           (FORKED + "test_the_fork_server_has_one_thread_and_its_workers_one_blas_thread",),
           "a forked worker's OpenBLAS starts a thread per core (its count is read at the "
           "server's import of numpy, before the worker's own setting)"),
    # ---- issue 19 (op19c) ----------------------------------------------------------------
    Mutant("stuck-pending-pod-invisible", "operator/reconcile.py",
           "        if stuck is not None:\n", "        if False:\n",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3: an ImagePullBackOff or unschedulable pod shows only Starting"),
    Mutant("unschedulable-not-read", "operator/observe.py",
           "        unschedulable=_unschedulable(status), created=_created(meta))",
           "        unschedulable=None, created=_created(meta))",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3: the scheduler's 'no node fits' is not reported"),
    Mutant("pending-never-times-out", "operator/pending.py",
           "    timed_out = since is not None and (now - since).total_seconds() >= timeout_s",
           "    timed_out = False",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3: a pod stuck Pending leaves the phase Starting forever"),
    Mutant("image-pull-flap-posts-an-event-each-time", "operator/pending.py",
           "        cause = SAME_CAUSE.get(pod.hint, pod.hint)",
           "        cause = pod.hint",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3: ErrImagePull <-> ImagePullBackOff posts a Warning on every flip"),
    Mutant("stuck-rollout-pod-frees-its-slot", "operator/rollout.py",
           "        return not is_pending_problem(plan.degraded)",
           "        return True",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3+4: a bad image's stuck pod turns Degraded and the rollout moves on"),
    Mutant("stuck-pod-waits-for-the-close", "operator/reconcile.py",
           "            observed, config, may_trade=owned or pod.phase != \"Pending\")",
           "            observed, config)",
           ("tests/operator/test_operator_pod_pending.py",),
           "issue 19/3: a corrected image waits for the close to replace a pod that never ran"),
    Mutant("operator-runs-standalone-beside-its-peers", "operator/peering.py",
           "    if config.peering_name is None:            # a local run: no peers to defer to",
           "    if True:",
           ("tests/operator/test_operator_peering.py::"
            "test_a_lower_priority_replica_stays_idle_and_takes_over_when_the_leader_dies",),
           "issue 19/6: a second operator replica reconciles beside the leader"),
    Mutant("replicas-share-one-priority", "operator/peering.py",
           "    return -(started_ns // 1000)", "    return 0",
           ("tests/operator/test_operator_peering.py",),
           "issue 19/6: replicas of one Deployment tie, and kopf pauses them all"),
    Mutant("peering-not-mandatory", "operator/peering.py",
           "    peering.mandatory = True\n", "    peering.mandatory = False\n",
           ("tests/operator/test_operator_peering.py",),
           "issue 19/6: a new replica runs before it has seen the leader's keep-alive"),
    Mutant("ws-batched-frame-read-only-first-record", "adapters/kis/ws_records.py",
           "    return [fields[i * width:(i + 1) * width] for i in range(count)]",
           "    return [fields[i * width:(i + 1) * width] for i in range(1)]",
           (WSF + "test_recorded_batched_tick_frames_give_every_record_with_consistent_fields",),
           "issue 20/1: a frame of several ticks yields only its first (KIS batches when busy)"),
    Mutant("ws-notice-ack-read-as-fill", "adapters/kis/ws_notices.py",
           '    is_fill = fill_code == "2"', '    is_fill = fill_code in ("1", "2")',
           (WSF + "test_recorded_encrypted_notice_decrypts_with_its_ack_key_into_26_fields",),
           "issue 20/1: an order acknowledgement (CNTG_YN 1) is taken for a fill"),
    Mutant("ws-pingpong-not-echoed", "adapters/kis/ws_session.py",
           "                await self._ws.send_str(frame.text)\n", "",
           (WS + "test_pingpong_is_echoed",),
           "issue 20/1: the server's PINGPONG goes unanswered (KIS drops the session)"),
    Mutant("ws-no-registration-cap", "adapters/kis/ws_feed.py",
           "        if len(self._wanted) >= self._cap:", "        if False:",
           (WS + "test_the_client_stops_at_40_registrations_and_the_server_at_41",),
           "issue 20/1: registrations past KIS's cap are sent and refused one by one"),
    Mutant("ws-reconnect-registers-nothing-again", "adapters/kis/ws_feed.py",
           "        tried: set[Registration] = set()\n",
           "        tried: set[Registration] = set(self._wanted) if self.connects > 1 else set()\n",
           (WS + "test_a_dropped_connection_reconnects_and_registers_everything_again",),
           "issue 20/1: after a reconnect what was wanted is not registered again"),
    Mutant("ws-stalled-stream-never-noticed", "adapters/kis/ws_session.py",
           "                    msg = await self._ws.receive(timeout=stale_after)",
           "                    msg = await self._ws.receive()",
           (WS + "test_a_stalled_stream_is_noticed_and_replaced",),
           "issue 20/1: a silent socket is taken for a quiet market, forever"),
    Mutant("ws-refused-approval-key-reused", "adapters/kis/ws_feed.py",
           "                    self._rejected_key = key\n", "",
           (WS + "test_a_refused_approval_key_is_replaced_and_a_second_session_is_refused",),
           "issue 20/1: a key the server refused (OPSP0011) is sent again on every reconnect"),
    Mutant("ws-approval-key-not-cached", "adapters/kis/ws_feed.py",
           "            key = await self._approval.get()\n",
           "            key = await self._approval.get(force_new=True)\n",
           (WS + "test_a_dropped_connection_reconnects_and_registers_everything_again",),
           "issue 20/1: every (re)connect asks /oauth2/Approval for a new key"),
    Mutant("ws-approval-key-in-the-token-slot", "adapters/kis/ws_approval.py",
           '    return "ws-approval/" + appkey', "    return appkey",
           ("tests/test_kis_ws_approval_shared.py",),
           "issue 20/1: the fleet's approval key and REST token of one appkey overwrite "
           "each other"),
]

STRATEGY_ERR = "tests/test_strategy_failure.py"
STRATEGY_PLUGINS = "tests/test_strategy_plugins.py::"
MUTANTS += [
    Mutant("strategy-error-escapes-the-cycle", "worker/cycle.py",
           "        except StrategyFailed as exc:\n            await self._strategy_failed(exc)\n"
           "            return\n",
           "        except StrategyFailed:\n            raise\n",
           (STRATEGY_ERR,),
           "issue 21/4: a strategy that raises ends the poll as if the database had failed, "
           "instead of stopping buying and keeping the held shares managed"),
    Mutant("strategy-error-not-caught-in-the-scan", "services/scan_service.py",
           "            raise StrategyFailed(str(self._strategy.name), exc) from exc",
           "            raise",
           (STRATEGY_ERR,),
           "issue 21/4: the user's exception leaves the scan as itself, not as StrategyFailed"),
    Mutant("strategy-error-keeps-buying", "worker/cycle.py",
           "        self.buying_stopped = True\n        self._log.error(\"strategy failed",
           "        self._log.error(\"strategy failed",
           (STRATEGY_ERR,),
           "issue 21/4: after a strategy error the worker scans (and may buy) again"),
    Mutant("strategy-filters-and-exits-ignored", "strategy_plugins/rules.py",
           "        out.append(value)", "        out.append(configured)",
           (STRATEGY_PLUGINS + "test_volume_surge_brings_its_own_exits_and_filters",),
           "issue 21/4: a strategy's own exit parameters and filters are not used"),
    Mutant("worker-ignores-the-strategys-exits", "worker/wiring.py",
           "    watch = ExitWatch(broker, retry.call, exits, sink,",
           "    watch = ExitWatch(broker, retry.call, type(exits)(**settings.exits.model_dump()), "
           "sink,",
           (SC + "test_strategy_exits.py",),
           "issue 21/4: the worker watches a holding with the settings' exits, not the "
           "strategy's"),
    Mutant("worker-ignores-the-strategys-filters", "worker/wiring.py",
           "PostgresCandidateStore(db), sink, strategy, filters,",
           "PostgresCandidateStore(db), sink, strategy, type(filters)("
           "**settings.filters.model_dump()),",
           (SC + "test_strategy_exits.py",),
           "issue 21/4: the worker's scan filters with the settings, not the strategy's"),
    # issue 20 (feed20b)
    Mutant("feed-mark-reads-a-partial-log-line", "local_fleet/feed_marks.py",
           "whole = chunk.rfind(b\"\\n\") + 1", "whole = len(chunk)",
           ("tests/test_feed_marks.py",),
           "issue 20: a log line read half-written is lost, and the demo's feed mark stays "
           "stale"),
    Mutant("demo-table-without-the-feed-marks", "local_fleet/demo.py",
           "live.update(render(progress, rows, alive, feed, worker_marks))",
           "live.update(render(progress, rows, alive, feed))",
           ("tests/test_demo_feed.py",),
           "issue 20: demo --feed does not show whether each worker's exits are on the tick"),
    Mutant("demo-from-ignored", "local_fleet/demo.py",
           "        at = max(at, datetime.combine(",
           "        at = min(at, datetime.combine(",
           ("tests/test_demo_feed.py",),
           "issue 20: demo --from plays the whole day (the short session asked for is not)"),
    Mutant("chaos-feed-kind-plays-without-the-feed", "local_fleet/chaos.py",
           "feed=opts.rig.feed or kind.feed", "feed=opts.rig.feed",
           ("tests/test_chaos_feed.py",),
           "issue 20: the feed chaos kinds run a fleet without a feed and prove nothing"),
    Mutant("chaos-rig-workers-without-the-feed", "local_fleet/session_rig.py",
           "                   if o.feed else {})}", "                   if False else {})}",
           ("tests/test_chaos_feed.py",),
           "issue 20: the chaos rig starts the feed but its workers never enable theirs"),
]

RECORD = "tests/test_record.py::"
PLAN = "tests/test_backtest_plan.py::"
BACKTEST = "tests/test_backtest_command.py::"
BAD_CSV_TEST = RECORD + "test_bad_csv_rows_are_named_by_line_and_column_and_nothing_is_written"
MUTANTS += [
    Mutant("csv-high-below-the-bar-accepted", "replay/csv_bars.py",
           "        if h < max(o, c, lo):", "        if False:", (BAD_CSV_TEST,),
           "issue 21/1: an imported bar whose high is below its open, low or close"),
    Mutant("csv-second-bar-of-a-minute-accepted", "replay/csv_bars.py",
           "            if key in by_day[day]:", "            if False:", (BAD_CSV_TEST,),
           "issue 21/1: two bars of one symbol and minute, the second silently kept"),
    Mutant("csv-good-rows-written-beside-bad-ones", "replay/csv_bars.py",
           "    if problems:\n        raise CsvImportError(problems)\n", "", (BAD_CSV_TEST,),
           "issue 21/1: a file with bad rows is imported in part, not refused whole"),
    Mutant("recorded-bars-include-the-running-minute", "replay/live_recorder.py",
           "b.start + ONE_MINUTE <= end", "b.start <= end",
           (RECORD + "test_a_recording_stopped_early_keeps_only_closed_bars_and_says_incomplete",),
           "issue 21/1: a live recording keeps the unfinished minute as if it were a bar"),
    Mutant("recorded-tape-looks-one-step-ahead", "replay/recorded_tape.py",
           "        self._set(self.steps)\n",
           "        self._set(min(self.steps + 1, self.last_step))\n",
           ("tests/test_recorded_tape.py::test_the_recorded_tape_is_the_simulators_step_for_step",),
           "issue 21/2: replay sees the next step's price (look-ahead)"),
    Mutant("replay-book-one-share-deeper", "replay/recorded_tape.py",
           'column("bid_qty_1", two_sided))', 'column("bid_qty_1", two_sided)) + 1',
           ("tests/test_replay_market.py",),
           "issue 21/2: the replay exchange's book is not the recorded one (fills differ)"),
    Mutant("replay-spread-one-tick-narrower", "replay/recorded_tape.py",
           "np.maximum(spread, 1), np.zeros(n, dtype=bool)",
           "np.maximum(spread - 1, 1), np.zeros(n, dtype=bool)",
           ("tests/test_replay_market.py",),
           "issue 21/2: the replay exchange quotes a spread the recorded day did not have"),
    # ---- issue 19 item 1 (fail19): a failed pass reaches the user --------------------------
    Mutant("failed-pass-writes-no-status", "operator/worker_controller.py",
           "            await self._kube.patch_worker_status(ns, name, status)\n"
           "            self._written[key] = {**previous, **status}\n",
           "            pass\n",
           (RECONCILE_FAILED,),
           "issue 19/1: an API error or Postgres outage leaves the status as if all were well"),
    Mutant("failed-pass-posts-no-event", "operator/worker_controller.py",
           "            self._post(body, \"Warning\", problem.reason, problem.message)\n", "",
           (RECONCILE_FAILED,),
           "issue 19/1: a failed pass posts no Event (and none when the status write fails)"),
    Mutant("failure-event-on-every-retry", "operator/worker_controller.py",
           "        if self._failing.get(key) != problem.reason:",
           "        if True:",
           (RECONCILE_FAILED,),
           "issue 19/1: a lasting outage posts a Warning every resync (Event spam)"),
    Mutant("failed-pass-retried-after-kopf-default", "operator/handlers.py",
           "            raise kopf.TemporaryError(str(failed), delay=failed.retry_in) from failed",
           "            raise kopf.TemporaryError(str(failed), delay=60) from failed",
           (RECONCILE_FAILED,),
           "issue 19/1: a failed pass waits a minute, not the resync interval"),
    Mutant("escaped-errors-keep-kopf-backoff", "operator/handlers.py",
           "    backoff = runtime.config.resync_seconds\n", "    backoff = None\n",
           (RECONCILE_FAILED,),
           "issue 19/1: whatever escapes a handler is retried after kopf's 60 s backoff"),
    Mutant("api-error-named-as-something-else", "operator/failure.py",
           "    if isinstance(exc, KubeError):", "    if False:",
           (RECONCILE_FAILED,),
           "issue 19/1: an apiserver error is not named as one (ApiError/ApiForbidden)"),
    Mutant("pod-made-by-a-failed-pass-never-named", "operator/status.py",
           "    if h.pod_name is None and current:", "    if False:",
           (RECONCILE_FAILED,),
           "issue 19/1: a pod created by a pass whose status write failed is never recorded"),
    Mutant("failed-schedule-look-crashes-silently", "operator/schedule_controller.py",
           "            await self._report_failure(body, name, exc)\n"
           "            return FAILED_RETRY_S",
           "            raise",
           (RECONCILE_FAILED,),
           "issue 19/1: a LiquidationSchedule that cannot reach Postgres near the close says "
           "nothing and waits kopf's minute"),
    # ---- issue 19 item 12 (fail19): CRD upgrades through the pre-upgrade hook -------------
    Mutant("crd-upgrade-downgrades-a-newer-crd", "operator/crd_upgrade.py",
           "            if revision(current) > revision(wanted):", "            if False:",
           ("tests/operator/test_operator_crd_upgrade.py", "tests/real_k8s/test_crd_upgrade.py"),
           "issue 19/12: an older release's upgrade takes a newer CRD's fields away"),
    Mutant("crd-upgrade-applies-foreign-crds", "operator/crd_upgrade.py",
           'if doc.get("kind") != "CustomResourceDefinition" or name not in OURS:',
           'if doc.get("kind") != "CustomResourceDefinition":',
           ("tests/packaging/test_chart_crd_upgrade.py",),
           "issue 19/12: the hook would replace whatever CRD its directory holds"),
    Mutant("running-pod-without-worker-starts-forever", "operator/pending.py",
           "    if pod.phase != \"Pending\":\n        if not timed_out:",
           "    if pod.phase != \"Pending\":\n        if True:",
           ("tests/operator/test_operator_pod_pending.py",),
           "a pod Running whose worker never registers stays phase Starting forever"),
    Mutant("unregistered-worker-frees-its-restart-slot", "operator/pending.py",
           "                                    or problem.reason == NOT_REGISTERED)",
           "                                    or False)",
           ("tests/operator/test_operator_pod_pending.py",),
           "a new image that runs but never registers rolls on through the whole fleet"),
    Mutant("backtest-runs-what-is-recorded-on-a-closed-day", "replay/backtest.py",
           "        if session is None:\n", "        if session is None and not recorded:\n",
           (PLAN + "test_only_a_recorded_krx_session_with_the_calendars_hours_runs",),
           "issue 21/2: a recording of a day KRX was closed is traded"),
    Mutant("backtest-checks-only-the-recorded-open", "replay/backtest.py",
           "if hours != (session.open, session.close):", "if hours[0] != session.open:",
           (PLAN + "test_only_a_recorded_krx_session_with_the_calendars_hours_runs",),
           "issue 21/2: a day recorded with other hours than KRX's session is replayed"),
    Mutant("backtest-range-backwards-not-refused", "replay/backtest.py",
           "    if last < first:\n", "    if False:\n",
           (PLAN + "test_a_range_backwards_is_refused_by_the_flag",),
           "issue 21/2: --to before --from runs nothing instead of naming the flag"),
    Mutant("backtest-weekends-listed", "replay/backtest.py",
           "if recorded or day.weekday() < 5:", "if True:",
           (PLAN + "test_only_a_recorded_krx_session_with_the_calendars_hours_runs",),
           "issue 21/2: every weekend of the range is listed as skipped"),
    Mutant("backtest-runs-a-day-without-quotes", "replay/backtest.py",
           "        elif not (folder / QUOTES_FILE).is_file():\n",
           "        elif False:\n",
           (PLAN + "test_only_a_recorded_krx_session_with_the_calendars_hours_runs",),
           "issue 21/2: a bars-only day is planned and stops the backtest midway"),
    Mutant("backtest-counts-open-positions-as-trades", "replay/backtest_summary.py",
           'closed = [t for t in trades if t["status"] == "CLOSED" and t["bought_qty"] > 0]',
           'closed = [t for t in trades if t["status"] == "CLOSED"]',
           (PLAN + "test_a_days_figures_count_closed_trades_and_the_worst_loss",),
           "issue 21/2: an entry that never filled counts as a trade"),
    Mutant("backtest-max-loss-is-a-win", "replay/backtest_summary.py",
           "min([0, *pnls])", "min(pnls or [0])",
           (PLAN + "test_a_days_figures_count_closed_trades_and_the_worst_loss",),
           "issue 21/2: a day without a loss shows its smallest win as its max loss"),
    Mutant("backtest-strategy-error-not-named-by-flag", "replay/backtest_fleet.py",
           '"(--strategy)"', '"(TRADEFLEET_STRATEGY__NAME)"',
           (BACKTEST + "test_a_bad_flag_is_refused_by_name_and_nothing_is_created",),
           "issue 21/2: a bad --strategy is reported under an env name the user never typed"),
    Mutant("backtest-params-error-not-named-by-flag", "replay/backtest_fleet.py",
           'f"(--params {params})" if params else',
           '"(TRADEFLEET_STRATEGY__PARAMS)" if params else',
           (BACKTEST + "test_a_bad_flag_is_refused_by_name_and_nothing_is_created",),
           "issue 21/2: a bad --params file is reported under an env name"),
    Mutant("backtest-workers-share-no-clock", "replay/runner.py",
           "for worker, cycle in zip(workers, cycles, strict=True):",
           "for worker, cycle in zip(workers[:1], cycles[:1], strict=True):",
           (BACKTEST + "test_workers_trade_on_one_clock_without_sharing_a_symbol",),
           "issue 21/2: only the first worker of a backtest's fleet trades"),
    Mutant("replay-lease-not-kept", "replay/runner.py",
           "        if lease.remaining() > self._half[id(worker)]:\n",
           "        if True:\n",
           (BACKTEST + "test_a_lease_shorter_than_the_wall_clock_day_changes_nothing",),
           "issue 21/2: a replayed day longer than the lock TTL in wall time loses its lease"),
    Mutant("backtest-days-left-behind", "replay/backtest.py",
           "        if self._keep:\n            return\n",
           "        if True:\n            return\n",
           (BACKTEST + "test_a_backtest_prints_the_same_summary_twice_and_totals_its_days",),
           "issue 21/2: a backtest leaves its databases on the server"),
    # ---- issue 19/9: the operator's API cost (cost19) ----------------------------------------
    Mutant("api-cost-pods-listed-every-pass", "operator/worker_controller.py",
           "        listed = pods is None\n", "        listed = True\n",
           (COST + "test_a_resync_over_an_unchanged_world_lists_no_pod_reads_no_secret_"
                   "writes_nothing",),
           "issue 19/9: every resync lists the worker's pods although the watch has them"),
    Mutant("api-cost-watch-behind-not-confirmed", "operator/worker_controller.py",
           "        if not listed and any(isinstance(a, CreatePod | DeletePod) for a in "
           "plan.actions):",
           "        if False:",
           (COST + "test_a_watch_behind_the_api_never_starts_a_second_pod",),
           "issue 19/9: a pod created a moment ago, not yet watched, gets a second pod"),
    Mutant("api-cost-secret-checks-never-kept", "operator/secret_checks.py",
           "        if stamp is not None and kept is not None and kept.stamp == stamp:",
           "        if False:",
           (COST + "test_secret_checks_read_again_only_when_a_version_changed",
            COST + "test_a_resync_over_an_unchanged_world_lists_no_pod_reads_no_secret_"
                   "writes_nothing"),
           "issue 19/9: every resync GETs and decrypts the worker's Secrets again"),
    Mutant("api-cost-secret-version-ignored", "operator/secret_checks.py",
           "        return namespace, spec.mode, names, versions",
           "        return namespace, spec.mode, names",
           (COST + "test_secret_checks_read_again_only_when_a_version_changed",
            COST + "test_a_secret_changed_through_the_api_is_checked_again_at_the_next_pass"),
           "issue 19/9: a changed Secret (a wrong key) is never checked again"),
    Mutant("api-cost-heartbeat-written-every-pass", "operator/status.py",
           "    return shown if age < every else w.heartbeat_at",
           "    return w.heartbeat_at",
           (COST + "test_a_ready_workers_status_stays_the_same_until_its_heartbeat_is_older_"
                   "than_the_bound",
            COST + "test_a_resync_over_an_unchanged_world_lists_no_pod_reads_no_secret_"
                   "writes_nothing"),
           "issue 19/9: a status patch per worker per resync for a moving lastHeartbeat"),
    Mutant("api-cost-stale-heartbeat-hidden", "operator/status.py",
           "            or not w.live or every <= 0 or shown > w.heartbeat_at):",
           "            or every <= 0 or shown > w.heartbeat_at):",
           (COST + "test_a_stale_heartbeat_shows_its_real_time_at_once",),
           "issue 19/9: a worker stale behind a pod never Ready keeps an old heartbeat"),
    Mutant("api-cost-ready-flip-keeps-old-heartbeat", "operator/status.py",
           "shown is None or ready_before != ready_now\n", "shown is None\n",
           (COST + "test_a_stale_heartbeat_shows_its_real_time_at_once",),
           "issue 19/9: a worker Ready again shows the heartbeat of before it went stale"),
    # issue 21 (replay21a)
    Mutant("backtest-report-equity-never-falls", "replay/backtest_report.py",
           "        total += t.pnl\n", "        total += abs(t.pnl)\n",
           ("tests/test_backtest_report.py::test_the_report_shows_the_databases_trades_"
            "figures_and_version",),
           "issue 21/3: the report's equity curve and drawdown ignore losing trades"),
    Mutant("backtest-report-one-session-time", "replay/backtest_report.py",
           "    return marks[min(k, len(marks) - 1)][1].astimezone(SEOUL)",
           "    return marks[0][1].astimezone(SEOUL)",
           ("tests/test_backtest_report.py::test_exits_are_on_the_session_clock_in_the_order_"
            "they_closed",),
           "issue 21/3: every trade of the report drawn at the first step's session time"),
    Mutant("backtest-report-tuning-pnl-unsigned", "replay/backtest_report.py",
           "            row[2] += pnl\n", "            row[2] += abs(pnl)\n",
           ("tests/test_backtest_report.py::test_the_tuning_notes_are_added_up_from_the_"
            "daily_summaries",),
           "issue 21/3: the tuning breakdown adds losses as gains"),
    Mutant("bar-quotes-minute-never-closes", "replay/bar_quotes.py",
           "second, second, c[:, None]])", "second, second, second])",
           ("tests/test_bar_quotes.py::test_the_replayed_minute_bars_are_the_csvs",),
           "issue 21: a CSV day's synthesised quotes end a minute off its close"),
    # issue 21 (tune21b)
    Mutant("param-version-unapproved-named-taken", "adapters/postgres/param_version_store.py",
           "    if not version.approved:", "    if False:",
           ("tests/test_param_versions.py::test_only_an_approved_version_is_taken",),
           "issue 21: a worker trades a version nobody approved (named by its id)"),
    Mutant("param-version-latest-unapproved-taken", "adapters/postgres/param_version_store.py",
           'f"IS NOT NULL ORDER BY approved_at DESC', 'f"IS NULL OR TRUE ORDER BY approved_at DESC',
           ("tests/test_param_versions.py::test_only_an_approved_version_is_taken",),
           "issue 21: latest-approved takes the newest version, approved or not"),
    Mutant("param-version-switched-mid-session", "adapters/postgres/param_version_store.py",
           "DO UPDATE SET version_id = s.version_id RETURNING",
           "DO UPDATE SET version_id = excluded.version_id RETURNING",
           ("tests/test_param_versions.py::test_a_version_approved_mid_session_waits_for_the_"
            "next_session",),
           "issue 21: a worker restarted mid-session takes the version approved meanwhile"),
    Mutant("walk-forward-judge-days-scored-in-fit", "tuning/tuner.py",
           "        fit_days = split.fit\n", "        fit_days = split.fit + split.judge\n",
           ("tests/test_tune_loop.py::test_walk_forward_search_never_scores_a_judge_day_and_"
            "repeats_itself",),
           "issue 21: the search fits on the days it is then judged on"),
    Mutant("walk-forward-fit-holds-every-day", "tuning/walk_forward.py",
           "Split(tuple(ordered[:-n_judge]),", "Split(tuple(ordered),",
           ("tests/test_tune_loop.py::test_walk_forward_search_never_scores_a_judge_day_and_"
            "repeats_itself",),
           "issue 21: the fit days include the judge days"),
    Mutant("param-version-approval-overwritten", "adapters/postgres/param_version_store.py",
           "WHERE version_id = $1 AND approved_at IS NULL RETURNING",
           "WHERE version_id = $1 RETURNING",
           ("tests/test_param_versions.py::test_params_command_lists_shows_and_approves_once",),
           "issue 21: a second approval rewrites who approved a version and when"),
    Mutant("param-version-beside-params-accepted", "settings/strategy.py",
           "        if self.param_version is not None and self.params and "
           "self._version_label is None:",
           "        if False:",
           ("tests/test_param_versions.py::test_bad_version_settings_name_the_field",),
           "issue 21: params and a parameter version both set: which one trades is unclear"),
    Mutant("param-version-never-taken-at-start", "worker/launch.py",
           "    settings = await take_param_version(settings, db, clock)\n",
           "    pass\n",
           ("tests/test_param_versions.py::test_a_starting_worker_takes_the_version_before_it_"
            "trades",),
           "issue 21: a worker starts on its settings' params, not the approved version"),
]


# issue 20 (feed20a)
FILLS = "tests/test_feed_fill_notices.py::"
MUTANTS += [
    Mutant("fill-notice-duplicate-recorded-again", "adapters/postgres/fill_notice_store.py",
           "    if inserted is None:\n        return NoticeOutcome.DUPLICATE",
           "    if inserted is None and False:\n        return NoticeOutcome.DUPLICATE",
           (FILLS + "test_duplicate_and_reordered_notices_never_double_a_fill",),
           "issue 20/3: a notice heard twice (a new holder after a failover) is recorded twice"),
    Mutant("fill-notice-claims-an-order-without-its-number",
           "adapters/postgres/fill_notice_store.py",
           "WHERE worker_id = $1 AND trading_day = $2 AND broker_order_id = $3",
           "WHERE worker_id = $1 AND trading_day = $2 AND (broker_order_id = $3 "
           "OR broker_order_id IS NULL)",
           (FILLS + "test_a_persons_fill_on_the_same_symbol_is_never_ours",),
           "issue 20/3: a person's fill of the symbol and side of our unanswered order is "
           "taken for ours (matched without our order number)"),
    Mutant("fill-notice-applied-after-the-follower", "adapters/postgres/fill_notice_store.py",
           "applies = (pushed[\"qty\"], pushed[\"amount\"]) == (row.filled_qty, "
           "row.filled_amount)",
           "applies = True",
           (FILLS + "test_the_follower_first_then_the_notice_records_nothing_more",),
           "issue 20/3: a notice of an execution the follower already recorded adds it again"),
    Mutant("fill-notice-past-the-order-size", "adapters/postgres/fill_notice_store.py",
           "        and filled <= row.qty", "        and True",
           (FILLS + "test_a_notice_larger_than_the_order_is_left_to_the_follower",),
           "issue 20/3: a notice that would overfill the order is applied (and fails)"),
    Mutant("feed-holder-never-gives-up", "feed/holder.py",
           "                if self._not_live_too_long():",
           "                if False and self._not_live_too_long():",
           ("tests/test_feed_holder_gives_up.py",),
           "issue 20/2: a holder that cannot connect keeps the account's feed lease forever"),
    Mutant("feed-holder-gives-up-without-releasing", "feed/holder.py",
           'if self._stop.is_set() or why == "gave up":', "if self._stop.is_set():",
           ("tests/test_feed_holder_gives_up.py",),
           "issue 20/2: a holder giving up leaves its lease to lapse (a TTL more of no feed)"),
    Mutant("tw-status-shows-a-dead-workers-feed", "operator/status.py",
           '"feed": w.feed_mode if w.live else None,', '"feed": w.feed_mode,',
           ("tests/operator/test_operator_status.py::"
            "test_the_feed_shows_as_the_live_worker_said_and_not_for_a_dead_one",),
           "issue 20/3: kubectl get tw says a dead worker's feed is live"),
    Mutant("feed-mode-written-on-every-word", "worker/feed_mode.py",
           "if want is None or want == self._said:", "if want is None:",
           ("tests/test_worker_feed_mode.py",),
           "issue 20/3: the worker row is rewritten at every word, not only on a change"),
    Mutant("prefix-report-after-a-pushed-fill-applied", "adapters/postgres/order_reports.py",
           "    if new_qty > 0 and new_amount <= 0:", "    if False:",
           ("tests/test_fill_notice_report_order.py",),
           "issue 20/3: a follower's report of an earlier prefix than the pushed fills is "
           "applied as a fill of no money (refused by the database: the order is stuck)"),
    # issue 22 (console22)
    Mutant("console-csrf-not-checked", "console/auth.py",
           "        if not hmac.compare_digest(form.get(\"csrf\", \"\").encode(), "
           "(actor.csrf or \"\").encode()):",
           "        if False:",
           ("tests/console/test_console_security.py::"
            "test_actions_need_the_token_and_csrf_and_this_origin",),
           "issue 22: another site's page makes a signed-in browser pause or liquidate"),
    Mutant("console-origin-not-checked", "console/auth.py",
           "        if origin and urlsplit(origin).netloc != request.host:",
           "        if False:",
           ("tests/console/test_console_security.py::"
            "test_actions_need_the_token_and_csrf_and_this_origin",),
           "issue 22: a cross-origin POST is accepted"),
    Mutant("console-event-payload-unredacted", "console/pages.py",
           "        payload = redact(payload)", "        payload = payload",
           ("tests/console/test_console_security.py::test_no_page_or_api_answer_shows_a_secret",),
           "issue 22: a secret in an event's payload is shown on the Events page"),
    Mutant("console-any-bearer-acts", "console/auth.py",
           "            if not self.token_matches(bearer[7:].strip()):",
           "            if False:",
           ("tests/console/test_console_security.py::"
            "test_actions_need_the_token_and_csrf_and_this_origin",),
           "issue 22: any bearer token may pause or liquidate the fleet"),
    Mutant("console-liquidate-pauses-instead", "console/actions.py",
           "                if action == \"liquidate\":\n                    changed = await "
           "controls.request_liquidation(",
           "                if action == \"liquidate!\":\n                    changed = await "
           "controls.request_liquidation(",
           ("tests/console/test_console_actions.py::"
            "test_pause_resume_and_liquidate_write_worker_controls_and_events",),
           "issue 22: liquidate-now writes a pause and never asks the worker to sell"),
    Mutant("console-live-never-pushes", "console/live.py",
           "                if marks != last:", "                if last is None:",
           ("tests/console/test_console_pages.py::"
            "test_a_change_in_postgres_reaches_an_open_page_as_an_event",),
           "issue 22: the page never hears of a change after the first"),
    Mutant("console-kube-writes-rows-itself", "console/server.py",
           "                                  if kube is not None else LocalControls(db))",
           "                                  if False else LocalControls(db))",
           ("tests/console/test_console_kube.py::"
            "test_pause_resume_and_liquidate_patch_the_tradingworker",),
           "issue 22: under Kubernetes the console writes worker_controls beside the operator"),
    Mutant("console-feed-mode-not-read", "console/read_model.py",
           "       w.feed_mode,\n", "       NULL AS feed_mode,\n",
           ("tests/console/test_console_pages.py::"
            "test_fleet_page_shows_each_workers_position_and_pnl",),
           "issue 22: every worker shown without its feed while exits are decided on ticks"),
]


# issue 22 (liq22)
LIQ_NOW = "tests/operator/test_operator_liquidate_now.py::"
MUTANTS += [
    Mutant("liquidate-now-written-every-pass", "operator/liquidate_now.py",
           "    if ordered is not None and ordered <= at:\n        return []",
           "    if False:\n        return []",
           (f"{LIQ_NOW}test_liquidate_now_is_written_once_and_said_once",),
           "issue 22: every reconcile pass writes spec.liquidateNow again and posts another "
           "LiquidationOrdered Event"),
    Mutant("liquidate-now-later-time-wins", "operator/liquidate_now.py",
           "    if ordered is not None and ordered <= at:",
           "    if ordered is not None:",
           (f"{LIQ_NOW}test_an_earlier_request_moves_the_time_a_later_one_does_not",),
           "issue 22: a person's liquidate-now is dropped when a later one (the schedule's) "
           "stands for the day"),
    Mutant("liquidate-now-stale-day-taken", "operator/liquidate_now.py",
           "    if request is None or not _is_today(request, observed):\n        return []",
           "    if request is None:\n        return []",
           (f"{LIQ_NOW}test_yesterdays_request_is_ignored_and_said_so",),
           "issue 22: yesterday's liquidateNow left in the spec is written again today"),
    Mutant("liquidate-now-not-for-a-degraded-running-worker", "operator/reconcile.py",
           "    if runs and own_row:\n        actions += liquidate_now_actions(",
           "    if False:\n        actions += liquidate_now_actions(",
           (f"{LIQ_NOW}test_a_running_worker_of_a_degraded_spec_still_gets_a_valid_request",),
           "issue 22: a person's liquidate-now never reaches a running worker whose spec "
           "went invalid (a rotated Secret, a typo elsewhere)"),
    Mutant("console-kube-liquidate-pauses", "console/actions.py",
           '    if action == "liquidate":\n        return {"liquidateNow"',
           '    if action == "liquidate!":\n        return {"liquidateNow"',
           ("tests/console/test_console_kube.py::"
            "test_pause_resume_and_liquidate_patch_the_tradingworker",),
           "issue 22: liquidate-now under Kubernetes patches a pause, nothing is sold"),
    # issue 21 (speed21)
    Mutant("replay-quiet-hold-after-a-market-step", "replay/quiet_holds.py",
           "self.quiet.get(key) != self.step \\", "key not in self.quiet \\",
           ("tests/test_quiet_holds.py",),
           "issue 21: a replay skips HOLD polls on new market data (exits missed or late)"),
    Mutant("replay-quiet-hold-after-an-exit", "replay/quiet_holds.py",
           "        if reason is None:\n            self._owner.quiet",
           "        if True:\n            self._owner.quiet",
           ("tests/test_quiet_holds.py",),
           "issue 21: a poll that found an exit counts as quiet: the next one is skipped"),
    Mutant("replay-quiet-hold-with-an-open-order", "replay/quiet_holds.py",
           "                or not self.no_orders.get(key, False):",
           "                or False:",
           ("tests/test_quiet_holds.py",),
           "issue 21: a replay skips the follower pass (and poll) of a worker whose order is "
           "open: its fill is seen late, the exit too"),
    Mutant("replay-quiet-hold-off-the-step-grid", "replay/quiet_holds.py",
           "    return all((m - open_at) % grid == timedelta(0) for m in moments)",
           "    return True",
           ("tests/test_quiet_holds.py",),
           "issue 21: a skipped poll may cross a liquidation or time exit inside a step"),
    Mutant("read-retry-no-wait-after-the-first-try", "worker/retry.py",
           "        await asyncio.sleep(min(self._base, self._max))\n",
           "\n",
           ("tests/scenarios/test_ec001_timeout.py",),
           "issue 21 (the read retry's bare first try): the second try follows the first "
           "with no backoff"),
    Mutant("read-retry-backoff-counted-from-one", "worker/retry.py",
           "            wait=wait_exponential(multiplier=self._base * 2, max=self._max),",
           "            wait=wait_exponential(multiplier=self._base, max=self._max),",
           ("tests/scenarios/test_ec001_timeout.py",),
           "issue 21 (the read retry's bare first try): the backoff stops growing"),
    Mutant("read-retry-one-try-more", "worker/retry.py",
           "            stop=stop_after_attempt(self._attempts - 1),",
           "            stop=stop_after_attempt(self._attempts),",
           ("tests/scenarios/test_ec001_timeout.py",),
           "issue 21 (the read retry's bare first try): four tries instead of three"),
    # issue 21 (params21c)
    Mutant("backtest-unknown-param-version-runs", "commands/backtest_version.py",
           "    if version is None:\n        raise", "    if False:\n        raise",
           (BTPV + "test_a_bad_param_version_is_refused_by_name_and_nothing_is_written[unknown]",),
           "issue 21: backtest --param-version of a version that does not exist is not refused"),
    Mutant("backtest-latest-approved-none-unnamed", "commands/backtest_version.py",
           "    if version is None and wanted == LATEST:", "    if False:",
           (BTPV + "test_a_bad_param_version_is_refused_by_name_and_nothing_is_written"
            "[none-approved]",),
           "issue 21: backtest --param-version latest-approved with none approved does not "
           "say so"),
    Mutant("backtest-param-version-of-another-strategy", "commands/backtest_version.py",
           "    if strategy_asked and version.strategy != strategy:", "    if False:",
           (BTPV + "test_a_bad_param_version_is_refused_by_name_and_nothing_is_written"
            "[other-strategy]",),
           "issue 21: --strategy A with a version of strategy B backtests B"),
    Mutant("backtest-param-version-beside-params", "commands/backtest_version.py",
           "    if wanted is not None and params is not None:", "    if False:",
           (BTPV + "test_a_bad_param_version_is_refused_by_name_and_nothing_is_written"
            "[beside-params]",),
           "issue 21: --params beside --param-version: which params were backtested is unclear"),
    Mutant("backtest-param-version-params-not-used", "commands/backtest.py",
           "    return on_version(fleet_settings(", "    return (lambda f, v: f)(fleet_settings(",
           (BTPV + "test_an_unapproved_version_is_backtested_as_its_params_and_the_fleet_db_"
            "is_untouched",),
           "issue 21: backtest --param-version runs the version's strategy on the config's "
           "params, under the config's label"),
    Mutant("operator-starts-a-pod-for-a-missing-param-version",
           "operator/param_version_check.py",
           "            if version is None:\n"
           "                return [Problem(\"ParamVersionNotFound\"",
           "            if False:\n                return [Problem(\"ParamVersionNotFound\"",
           (OPPV + "test_each_version_a_worker_cannot_start_on_is_named_with_its_reason",),
           "issue 21: a TradingWorker naming a version that does not exist gets a pod that "
           "fails at start-up, again and again"),
    Mutant("operator-starts-a-pod-for-an-unapproved-param-version",
           "operator/param_version_check.py",
           "            if not version.approved:", "            if False:",
           (OPPV + "test_each_version_a_worker_cannot_start_on_is_named_with_its_reason",),
           "issue 21: a TradingWorker naming an unapproved version gets a crash-looping pod"),
    Mutant("operator-starts-a-pod-with-none-approved",
           "operator/param_version_check.py",
           "            if version is None:\n"
           "                return [Problem(\"ParamVersionNotApproved\"",
           "            if False:\n                return [Problem(\"ParamVersionNotApproved\"",
           (OPPV + "test_each_version_a_worker_cannot_start_on_is_named_with_its_reason",),
           "issue 21: latest-approved with nothing approved gets a crash-looping pod"),
    Mutant("operator-starts-a-pod-for-another-strategys-version",
           "operator/param_version_check.py",
           "            if version.strategy != name:", "            if False:",
           (OPPV + "test_each_version_a_worker_cannot_start_on_is_named_with_its_reason",),
           "issue 21: a version of another strategy gets a pod whose worker refuses it"),
    Mutant("operator-starts-a-pod-for-an-unfit-param-version",
           "operator/param_version_check.py",
           "            load_strategy(name, dict(version.params))\n", "            pass\n",
           (OPPV + "test_each_version_a_worker_cannot_start_on_is_named_with_its_reason",),
           "issue 21: a version whose params no longer fit the strategy gets a pod that fails"),
    Mutant("operator-param-version-never-checked", "operator/worker_controller.py",
           "            if self._param_versions is not None:", "            if False:",
           (OPPV + "test_no_pod_for_a_version_not_approved_until_it_is",),
           "issue 21: the operator starts pods for versions not there or not approved (the "
           "worker fails at start-up; the status says only that a pod failed)"),
    # issue 21 (lead): a backtest of the live config takes the version the config names
    Mutant("backtest-config-param-version-ignored", "commands/backtest.py",
           "    if wanted is None and fleet[0].strategy.param_version is not None:",
           "    if False:",
           ("tests/test_backtest_param_version.py::"
            "test_a_config_naming_a_version_backtests_that_version",),
           "issue 21: a config naming a parameter version cannot be backtested"),
    # issue 21 (speed21b)
    Mutant("parallel-days-in-the-order-they-finish", "replay/parallel_days.py",
           "    return [finished[k] for k in sorted(finished)]",
           "    return list(finished.values())",
           ("tests/test_parallel_days.py::"
            "test_days_heard_as_they_finish_come_back_in_the_plans_order",),
           "issue 21 (--jobs): the summary's days, equity curve and report follow whichever "
           "process ended first"),
    Mutant("backtest-jobs-not-checked", "replay/backtest.py",
           "    if not 1 <= jobs <= MAX_JOBS:", "    if False:",
           ("tests/test_parallel_days.py::"
            "test_a_bad_jobs_value_is_refused_by_name_before_a_database_is_made",),
           "issue 21 (--jobs): a bad --jobs reaches the server instead of being refused by "
           "name"),
    Mutant("backtest-report-chart-random-id", "replay/backtest_html.py",
           ',\n                                         div_id="backtest-chart")', ")",
           ("tests/test_backtest_command.py::"
            "test_days_run_side_by_side_give_the_summary_and_report_of_one_process",),
           "issue 21: the same backtest writes a different report each run (plotly's random "
           "element id)"),
    Mutant("step-reads-kept-past-their-clock-time", "replay/step_reads.py",
           "        if now != self._at:", "        if False:",
           ("tests/test_step_reads.py::test_a_read_from_the_memo_is_the_markets_read_at_that_"
            "time_and_a_new_time_reads_again",),
           "issue 21 (step-shared reads): a worker trades on the quotes and bars of an "
           "earlier step"),
    Mutant("step-reads-hand-out-the-memo-itself", "replay/step_reads.py",
           "        return list(self._memo[key])", "        return self._memo[key]",
           ("tests/test_step_reads.py::test_what_a_caller_does_with_its_answer_does_not_"
            "reach_the_next_caller",),
           "issue 21 (step-shared reads): one worker's change to its bars reaches the next "
           "worker's"),
    Mutant("idle-follower-after-an-order-made", "replay/quiet_holds.py",
           "        self._owner.no_orders[self._key] = False\n        return await self._create(",
           "        return await self._create(",
           ("tests/test_quiet_holds.py::test_the_follower_is_left_out_only_after_an_empty_read_"
            "with_no_order_made_since",),
           "issue 21 (idle follower): the order a poll just made is not followed"),
    Mutant("idle-follower-with-an-open-order", "replay/quiet_holds.py",
           "        if key in self._creates_watched and self.no_orders.get(key, False):",
           "        if key in self._creates_watched:",
           ("tests/test_quiet_holds.py::test_the_follower_is_left_out_only_after_an_empty_read_"
            "with_no_order_made_since",),
           "issue 21 (idle follower): a worker's open order is left unfollowed"),
    Mutant("idle-follower-without-watching-orders-made", "replay/quiet_holds.py",
           "        if key in self._creates_watched and self.no_orders.get(key, False):",
           "        if self.no_orders.get(key, False):",
           ("tests/test_quiet_holds.py::test_the_follower_is_left_out_only_after_an_empty_read_"
            "with_no_order_made_since",),
           "issue 21 (idle follower): a worker whose orders are not watched skips its pass"),
    # issue 21 (speed21c)
    Mutant("day-controls-never-read", "replay/day_controls.py",
           "            self._controls = await self._read()",
           "            self._controls = WorkerControls()",
           ("tests/test_day_controls.py::"
            "test_a_pause_written_before_the_day_holds_its_worker_all_day_and_no_other",),
           "issue 21 (controls once a day): a replay ignores a pause written before its day"),
    Mutant("day-controls-one-for-the-fleet", "replay/day_controls.py",
           "            self._controls = await self._read()",
           "            self._controls = self._owner.__dict__.setdefault('first', "
           "await self._read())",
           ("tests/test_day_controls.py::"
            "test_a_pause_written_before_the_day_holds_its_worker_all_day_and_no_other",),
           "issue 21 (controls once a day): the first worker's controls are every worker's"),
    Mutant("orders-known-after-an-order-made", "replay/quiet_holds.py",
           "        self._owner.none_open.pop(self._key, None)\n", "",
           ("tests/test_quiet_holds.py::test_open_orders_are_answered_none_only_after_an_"
            "empty_read_with_nothing_since",),
           "issue 21 (open orders known): the order a poll just made is not seen as open"),
    Mutant("orders-known-after-a-read-that-found-some", "replay/quiet_holds.py",
           "        owner.none_open[self._key] = not rows",
           "        owner.none_open[self._key] = True",
           ("tests/test_quiet_holds.py::test_open_orders_are_answered_none_only_after_an_"
            "empty_read_with_nothing_since",),
           "issue 21 (open orders known): an open order found once is answered none after"),
    Mutant("orders-known-past-a-follower-pass", "replay/quiet_holds.py",
           "        self.none_open.pop(id(cycle), None)\n"
           "        self.none_positions.pop(id(cycle), None)\n",
           "        self.none_positions.pop(id(cycle), None)\n",
           ("tests/test_quiet_holds.py::test_open_orders_are_answered_none_only_after_an_"
            "empty_read_with_nothing_since",),
           "issue 21 (open orders known): a row a follower pass brings back open is not seen"),
    Mutant("orders-known-without-watching-orders-made", "replay/quiet_holds.py",
           "        return key in self._creates_watched and self.none_open.get(key, False)",
           "        return self.none_open.get(key, False)",
           ("tests/test_quiet_holds.py::test_open_orders_are_answered_none_only_after_an_"
            "empty_read_with_nothing_since",),
           "issue 21 (open orders known): a worker whose orders are not watched is answered "
           "none"),
    Mutant("orders-known-runner-does-not-tell-of-a-pass", "replay/runner.py",
           "            if not idle:\n                holds.following(cycle)\n", "",
           ("tests/test_quiet_holds.py::test_the_runner_reads_open_orders_again_after_a_"
            "follower_pass",),
           "issue 21 (open orders known): the runner's follower passes leave the known none "
           "standing"),
    Mutant("positions-known-with-an-order-open", "replay/quiet_holds.py",
           "        owner.none_positions[self._key] = not rows and "
           "owner.knows_none_open(self._key)",
           "        owner.none_positions[self._key] = not rows",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (positions known): an entry that fills as it is followed is not seen held"),
    Mutant("positions-known-after-a-lock-taken", "replay/quiet_holds.py",
           "        self._owner.none_locks.pop(self._key, None)\n"
           "        self._owner.none_positions.pop(self._key, None)\n",
           "        self._owner.none_locks.pop(self._key, None)\n",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (positions known): an adopted orphan's position is not seen held"),
    Mutant("locks-known-after-a-lock-taken", "replay/quiet_holds.py",
           "        self._owner.none_locks.pop(self._key, None)\n"
           "        self._owner.none_positions.pop(self._key, None)\n",
           "        self._owner.none_positions.pop(self._key, None)\n",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (locks known): a lock the worker took is not seen"),
    Mutant("positions-known-after-an-order-made", "replay/quiet_holds.py",
           "        self._owner.none_positions.pop(self._key, None)\n"
           "        self._owner.no_orders[self._key] = False\n",
           "        self._owner.no_orders[self._key] = False\n",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (positions known): the fill of an order just made is not seen held"),
    Mutant("positions-known-past-a-follower-pass", "replay/quiet_holds.py",
           "        self.none_open.pop(id(cycle), None)\n"
           "        self.none_positions.pop(id(cycle), None)\n",
           "        self.none_open.pop(id(cycle), None)\n",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (positions known): a fill the follower records is not seen held"),
    Mutant("held-known-with-locks-taken-elsewhere", "replay/quiet_holds.py",
           "        if any(other is not locks for other in sharing):\n            return\n",
           "",
           ("tests/test_quiet_holds.py::test_positions_and_locks_are_answered_none_only_while_"
            "nothing_could_make_one",),
           "issue 21 (positions/locks known): a lock taken past the watched service is not "
           "seen"),
    Mutant("held-connection-transaction-left-open", "replay/held_connections.py",
           "        if conn.is_in_transaction():\n", "        if False:\n",
           ("tests/test_held_connections.py::test_statements_share_held_connections_each_left_"
            "as_a_release_leaves_it",),
           "issue 21 (held connections): a transaction left open runs on into the next "
           "statements"),
    Mutant("held-connection-kept-after-a-failure", "replay/held_connections.py",
           "        self._held.remove(conn)\n"
           "        await asyncio.shield(self._pool.release(conn))",
           "        self._free.append(conn)",
           ("tests/test_held_connections.py::test_statements_share_held_connections_each_left_"
            "as_a_release_leaves_it",),
           "issue 21 (held connections): a connection a failed or cancelled statement left "
           "is used again without the pool's checks"),
    Mutant("held-connections-kept-past-the-day", "replay/held_connections.py",
           "            await self._pool.release(conn)", "            pass",
           ("tests/test_held_connections.py::test_statements_share_held_connections_each_left_"
            "as_a_release_leaves_it",),
           "issue 21 (held connections): the day's connections are never the pool's again "
           "(its close waits for ever)"),
    Mutant("held-connections-runner-keeps-them", "replay/runner.py",
           "        await held.release_all()", "        pass",
           ("tests/test_day_controls.py::"
            "test_a_pause_written_before_the_day_holds_its_worker_all_day_and_no_other",),
           "issue 21 (held connections): a replayed day ends with its connections out of the "
           "pool"),
    Mutant("deferred-events-not-before-a-statement", "replay/held_connections.py",
           "            if kept.due() and kept.names(query):\n"
           "                await kept.store(conn)",
           "            pass",
           ("tests/test_deferred_events.py::test_published_events_are_stored_in_order_before_"
            "the_next_statement",),
           "issue 21 (deferred events): a statement runs before the events published ahead "
           "of it are stored"),
    Mutant("deferred-events-out-of-order", "replay/deferred_inserts.py",
           "            kept, self.pending = self.pending, []",
           "            kept, self.pending = self.pending[::-1], []",
           ("tests/test_deferred_events.py::test_published_events_are_stored_in_order_before_"
            "the_next_statement",),
           "issue 21 (deferred events): the event log's order is not the publish order"),
    Mutant("deferred-events-not-logged", "replay/deferred_events.py",
           "            self.keep(event)\n            log([event])",
           "            self.keep(event)",
           ("tests/test_deferred_events.py::test_published_events_are_stored_in_order_before_"
            "the_next_statement",),
           "issue 21 (deferred events): a kept event's log line and metrics are lost"),
    Mutant("deferred-events-flush-stores-nothing", "replay/held_connections.py",
           "            async with self.acquire():\n                pass",
           "            return",
           ("tests/test_deferred_events.py::test_published_events_are_stored_in_order_before_"
            "the_next_statement",),
           "issue 21 (deferred events): a step's events wait for a later step's statement"),
    Mutant("event-line-dropped-by-any-chain", "adapters/telemetry/logging.py",
           "    return structlog.stdlib.filter_by_level in structlog.get_config()[\"processors\"]",
           "    return True",
           ("tests/test_logging.py::test_a_line_below_the_level_is_not_written_and_any_"
            "other_chain_hears_it_all",),
           "issue 21 (speed21c): a capture of every line (a test's) misses the events below "
           "the stdlib level"),
    # issue 20 (rt20c)
    Mutant("notice-not-ours-looked-at-again-regardless", "worker/fill_notices.py",
           '            if outcome != "not ours" or not pending:',
           '            if outcome != "not ours":',
           ("tests/test_notice_looks.py::test_a_notice_not_ours_is_looked_at_once_when_no_"
            "answer_of_ours_is_awaited",),
           "issue 20: every worker of the account looks at every other worker's fill four "
           "times (77 money transactions a fill at 20 workers)"),
    Mutant("no-answer-ever-awaited", "services/order_answers.py",
           "        return any(written == math.inf for written in self._in_flight.values())",
           "        return False",
           ("tests/test_order_settled.py::"
            "test_a_notice_before_our_answer_is_recorded_as_the_answer_is_written",),
           "issue 20: a fill pushed before our order's answer is judged not ours for good"),
    Mutant("order-write-commits-asynchronously", "adapters/postgres/fenced_order.py",
           "          + \"   AND set_config('synchronous_commit', 'on', true) = 'on'\\n\"\n",
           "",
           ("tests/test_order_write_round_trip.py",),
           "issue 20: the order row a send relies on may be lost in a crash (its commit did "
           "not wait for the disk)"),
    Mutant("order-write-durability-outlives-its-statement", "adapters/postgres/fenced_order.py",
           "set_config('synchronous_commit', 'on', true)",
           "set_config('synchronous_commit', 'on', false)",
           ("tests/test_order_write_round_trip.py",),
           "issue 20: the connection that wrote an order commits everything after it "
           "synchronously (the pool's lock traffic loses its async commit)"),
    Mutant("answer-written-during-the-look-waited-for-again", "services/order_answers.py",
           "        if since is not None and self.written != since:\n            return\n",
           "",
           ("tests/test_notice_looks.py::test_an_answer_written_while_a_notice_was_looked_at_"
            "is_not_waited_for_again",),
           "issue 20: a notice looked at as our answer was written waits for the next answer "
           "or the 0.2 s timer (the fill-to-record p99 at one worker)"),
    # issue 20 (sent20)
    Mutant("sent-write-commits-asynchronously", "adapters/postgres/sent_order.py",
           "       AND set_config('synchronous_commit', 'on', true) = 'on'\n", "",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: the broker's acceptance of an order may be lost in a crash (its commit "
           "did not wait for the disk on an asynchronous pool)"),
    Mutant("sent-write-durability-outlives-its-statement", "adapters/postgres/sent_order.py",
           "set_config('synchronous_commit', 'on', true)",
           "set_config('synchronous_commit', 'on', false)",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: the connection that recorded a send commits everything after it "
           "synchronously (the pool's lock traffic loses its async commit)"),
    Mutant("sent-status-before-read-without-the-lock", "adapters/postgres/sent_order.py",
           "SELECT order_id, status FROM orders WHERE order_id = $1 FOR UPDATE",
           "SELECT order_id, status FROM orders WHERE order_id = $1",
           ("tests/test_order_sent_round_trip.py::"
            "test_mark_sent_reports_the_status_it_moved_from_after_a_concurrent_change",),
           "issue 20: a row changed by a fill meanwhile is counted as a move it never made "
           "(status metrics no longer match the rows)"),
    Mutant("sent-status-before-is-the-status-after", "adapters/postgres/sent_order.py",
           "RETURNING o.*, b.status AS status_before",
           "RETURNING o.*, o.status AS status_before",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: the move to SENT is never counted in the status metrics"),
    Mutant("sent-event-status-is-the-one-before", "adapters/postgres/sent_order.py",
           "               'status', upd.status)",
           "               'status', upd.status_before)",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: the stored OrderSentEvent says NEW where the row became SENT (the "
           "event differs from the one logged)"),
    Mutant("sent-ack-replaces-the-broker-id", "adapters/postgres/sent_order.py",
           "broker_order_id = coalesce(o.broker_order_id, $2),",
           "broker_order_id = $2,",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: a late ack overwrites the broker id a report had already attached"),
    Mutant("sent-moves-a-partly-filled-expired-row", "adapters/postgres/sent_order.py",
           "OR (o.status = 'EXPIRED' AND o.filled_qty = 0)",
           "OR (o.status = 'EXPIRED')",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: an expired row with fills is moved back to SENT by a late ack"),
    Mutant("sent-of-no-order-not-refused", "adapters/postgres/order_store.py",
           "        if rec is None:\n            raise LookupError("
           "f\"order_id: no order {order_id} in a state allowing this\")\n"
           "        row = order_row(rec)\n        events: list",
           "        row = order_row(rec)\n        events: list",
           ("tests/test_order_sent_round_trip.py",),
           "issue 20: an ack for an order we have no row of raises a TypeError, not the "
           "LookupError callers handle"),
    # issue 21 (speed21e)
    Mutant("replay-quiet-scan-after-a-candidate", "replay/quiet_scans.py",
           "        if not result.ranked and owner.unfaulted():",
           "        if owner.unfaulted():",
           ("tests/test_quiet_scans.py",),
           "issue 21: a replay hands a worker its previous scan's candidates, with their old "
           "quote times (the entry gate judges the scan's age and the cutoff by them)"),
    Mutant("replay-quiet-scan-after-a-market-step", "replay/quiet_scans.py",
           "if last is not None and last[0] == step and owner.unfaulted():",
           "if last is not None and owner.unfaulted():",
           ("tests/test_quiet_scans.py",),
           "issue 21: a replay answers a scan on new market data with an old empty one "
           "(entries missed or late)"),
    Mutant("replay-quiet-scan-under-a-fault-now", "replay/quiet_scans.py",
           "if last is not None and last[0] == step and owner.unfaulted():",
           "if last is not None and last[0] == step:",
           ("tests/test_quiet_scans.py",),
           "issue 21: a scan left out while a fault rule is armed (its reads' faults and "
           "random draws shift to later reads)"),
    Mutant("replay-quiet-scan-after-a-faulted-scan", "replay/quiet_scans.py",
           "        if not result.ranked and owner.unfaulted():",
           "        if not result.ranked:",
           ("tests/test_quiet_scans.py",),
           "issue 21: a scan run while a fault rule was armed is served again"),
    Mutant("replay-quiet-scans-not-wired", "replay/runner.py",
           "        if scans is not None:\n            scans.watch(cycle)\n",
           "",
           ("tests/test_quiet_scans.py::test_a_fleet_trades_the_same_with_its_quiet_scans_answered",),
           "issue 21: the replay's quiet scans are never taken (the speed lever silently off)"),
    Mutant("replay-step-bars-keep-the-running-minute", "replay/step_reads.py",
           "i, a, b = market._index[symbol], len(done), end - 1",
           "i, a, b = market._index[symbol], len(done), end",
           ("tests/test_step_reads.py",),
           "issue 21: the running minute's bar is kept as if finished: a replay's scans and "
           "exit checks read a minute bar frozen mid-minute"),
    Mutant("replay-step-bars-of-none", "replay/step_reads.py",
           "            if count <= 0 or symbol not in market._index:",
           "            if symbol not in market._index:",
           ("tests/test_step_reads.py",),
           "issue 21: a read of no bars answers the running one"),
    Mutant("replay-deferred-events-not-before-a-statement-naming-them",
           "replay/deferred_inserts.py",
           "        return not isinstance(query, str) or self.table in query.lower()",
           "        return not isinstance(query, str)",
           ("tests/test_deferred_events.py",),
           "issue 21: a statement that reads or writes the events table runs before the kept "
           "events are stored (it misses them, or the log's order changes)"),
    Mutant("replay-deferred-events-not-before-a-block", "replay/deferred_inserts.py",
           "        return not isinstance(query, str) or self.table in query.lower()",
           "        return self.table in str(query).lower()",
           ("tests/test_deferred_events.py",),
           "issue 21: a block of statements (a store's transaction) runs before the kept "
           "events are stored"),
    # issue 20 (rt20d)
    Mutant("shrunk-share-counted-at-its-old-size",
           "adapters/postgres/migrations/0018_rate_share_kept_places.sql",
           "        keep := LEAST(tf_rate_share_counted(mine, t, p_window),\n"
           "                      coalesce(p_keep_at_most, 2147483647));",
           "        keep := tf_rate_share_counted(mine, t, p_window);",
           ("tests/test_rate_share_shrink.py",),
           "issue 20: a shrunk share stays counted at its old size for a ttl and a window, and "
           "a fleet's orders wait for places nobody spends"),
    Mutant("shrinking-holder-spends-its-old-share", "adapters/postgres/rate_share.py",
           "        return self._share if self._cap is None else min(self._share, self._cap)",
           "        return self._share",
           ("tests/test_rate_share_shrink.py",),
           "issue 20: a holder keeps spending its old share while the database already counts "
           "only what it said it would keep: the broker sees more than the limit"),
    Mutant("shrinking-holder-keeps-only-its-ask", "adapters/postgres/rate_share.py",
           "                keep = max(self._occupied(now), self._cap)",
           "                keep = self._cap",
           ("tests/test_rate_share_shrink.py",),
           "issue 20: the places still in the holder's window are no longer counted once it "
           "shrinks: the broker sees more than the limit"),
    Mutant("shrinking-holder-keeps-nothing-counted", "adapters/postgres/rate_share.py",
           "                keep = max(self._occupied(now), self._cap)",
           "                keep = 0",
           ("tests/test_rate_share_shrink.py",),
           "issue 20: a shrinking holder says it keeps no place: its sends in flight are "
           "no longer counted"),
    Mutant("shrink-cap-never-lifted", "adapters/postgres/rate_share.py",
           "                self._share, self._valid_until, self._next = share, until, None\n"
           "                self._cap = None",
           "                self._share, self._valid_until, self._next = share, until, None",
           ("tests/test_rate_share_shrink.py",),
           "issue 20: after a shrink the holder never grows past it again"),
    # issue 21 (speed21f)
    Mutant("replay-kept-pnl-after-a-close", "replay/known_pnl.py",
           "                self._known.pop(event.worker_id, None)\n",
           "",
           ("tests/test_known_pnl.py",),
           "issue 21: a replay's entry judges the daily loss limit on a realised PnL from "
           "before the worker's last close (entries the limit would have refused)"),
    Mutant("replay-kept-pnl-after-a-failed-store-call", "replay/known_pnl.py",
           "            self._owner.unsure()\n",
           "",
           ("tests/test_known_pnl.py",),
           "issue 21: a report call that raised after its transaction committed leaves a "
           "stale realised PnL kept"),
    Mutant("replay-kept-pnl-fill-notices-unwatched", "replay/known_pnl.py",
           "            store.record_fill_notice = _Closing(store.record_fill_notice, self)\n",
           "",
           ("tests/test_known_pnl.py",),
           "issue 21: a close recorded from a fill notice does not forget the kept PnL"),
    Mutant("replay-kept-pnl-of-another-day", "replay/known_pnl.py",
           "if known is not None and known[0] == day and not self._unwatched:",
           "if known is not None and not self._unwatched:",
           ("tests/test_known_pnl.py",),
           "issue 21: yesterday's realised PnL answers today's loss-limit check"),
    Mutant("replay-kept-pnl-with-an-unwatched-worker", "replay/known_pnl.py",
           "if known is not None and known[0] == day and not self._unwatched:",
           "if known is not None and known[0] == day:",
           ("tests/test_known_pnl.py",),
           "issue 21: a PnL is kept in a fleet where one worker's closes cannot be seen"),
    Mutant("replay-kept-pnl-read-during-a-close", "replay/known_pnl.py",
           "        if self.stamp(worker_id) == stamp:",
           "        if True:",
           ("tests/test_known_pnl.py",),
           "issue 21: a PnL read while a position closed is kept (it may miss the close)"),
    Mutant("replay-kept-pnl-not-wired", "replay/runner.py",
           "    if pnl is not None:\n        pnl.watch(cycle)\n",
           "",
           ("tests/test_known_pnl.py::test_a_fleet_trades_the_same_with_its_pnl_kept_and_"
            "orphan_looks_answered",),
           "issue 21: the replay's kept PnL is never taken (the speed lever silently off)"),
    Mutant("replay-orphan-look-answered-with-a-lapsed-lease", "replay/live_fleet.py",
           "        return self._checked and all(w.lease.valid() for w in self._workers)",
           "        return self._checked",
           ("tests/test_live_fleet.py",),
           "issue 21: a replay answers the orphan look none while a worker's heartbeat may "
           "have lapsed (its orphaned position never adopted)"),
    Mutant("replay-orphan-look-answered-before-the-rows-are-read", "replay/live_fleet.py",
           "        return self._checked and all(",
           "        return all(",
           ("tests/test_live_fleet.py",),
           "issue 21: the orphan look is answered none before the day's worker rows were "
           "checked to be the fleet's"),
    Mutant("replay-orphan-look-with-a-row-not-of-the-fleet", "replay/live_fleet.py",
           'self._checked = all(r["worker_id"] in ids and r["status"] != "EXIT" for r in rows)',
           'self._checked = all(r["status"] != "EXIT" for r in rows)',
           ("tests/test_live_fleet.py",),
           "issue 21: a worker row not of the fleet (never beating) is taken as live"),
    Mutant("replay-orphan-look-with-an-exit-row", "replay/live_fleet.py",
           'self._checked = all(r["worker_id"] in ids and r["status"] != "EXIT" for r in rows)',
           'self._checked = all(r["worker_id"] in ids for r in rows)',
           ("tests/test_live_fleet.py",),
           "issue 21: a worker row already EXIT is taken as live (its positions are orphans)"),
    Mutant("replay-orphan-look-not-wired", "replay/runner.py",
           "    if live is not None:\n        live.watch(worker, cycle)\n",
           "",
           ("tests/test_known_pnl.py::test_a_fleet_trades_the_same_with_its_pnl_kept_and_"
            "orphan_looks_answered",),
           "issue 21: the replay's orphan look is never answered (the speed lever silently "
           "off)"),
    # issue 20 (tick20e)
    Mutant("tick-before-its-position-never-judged", "worker/tick_exits.py",
           "            self._ticks.put_nowait(unheld)      # the price as the position was taken",
           "            pass",
           ("tests/test_tick_exits.py",),
           "issue 20: a tick heard while the entry was under way is dropped; the stop waits "
           "for the next push of the same price"),
    Mutant("entry-symbol-not-listened-to", "worker/tick_exits.py",
           "        if symbol is None:\n            symbol = cycle.paths.entry.entering\n",
           "",
           ("tests/test_tick_exits.py",),
           "issue 20: the worker listens to a symbol only once it holds it: the ticks after "
           "the buy's fill go unheard"),
    Mutant("entry-symbol-unwatched-before-its-position", "worker/tick_exits.py",
           "        if symbol is None and self._watched is not None and cycle.turn.locked():",
           "        if False:",
           ("tests/test_tick_exits.py",),
           "issue 20: between the entry step and its position the symbol is unwatched, and "
           "the tick heard meanwhile forgotten"),
    Mutant("entry-never-says-its-symbol", "worker/entry.py",
           "            self.entering = symbol      # its ticks may be heard from now "
           "(worker/tick_exits)\n",
           "",
           ("tests/test_tick_exits.py",),
           "issue 20: the tick side never learns the symbol an entry has locked"),
    Mutant("entry-symbol-said-after-it-returns", "worker/entry.py",
           "        finally:\n            self.entering = None",
           "        finally:\n            pass",
           ("tests/test_tick_exits.py",),
           "issue 20: the symbol of an entry that ended stays watched"),
    # issue 21 (speed21g)
    Mutant("replay-days-logged", "replay/backtest.py",
           "            await make_unlogged(conn)           # scratch days: see "
           "replay.unlogged_days\n",
           "",
           ("tests/test_unlogged_days.py",),
           "issue 21: a backtest's days write WAL and wait for its flushes (the speed lever "
           "silently off)"),
    Mutant("replay-unlogged-referenced-first", "replay/unlogged_days.py",
           "        ready = sorted(t for t, by in left.items() if not (by & left.keys()))",
           "        ready = sorted(t for t, by in left.items() if by or True)",
           ("tests/test_unlogged_days.py",),
           "issue 21: a table referenced by a logged one is turned first (PostgreSQL refuses)"),
    Mutant("replay-unlogged-standalone-sequences-left", "replay/unlogged_days.py",
           "    for sequence in sequences:\n",
           "    for sequence in []:\n",
           ("tests/test_unlogged_days.py",),
           "issue 21: nextval of the fencing sequence still writes WAL and brings the flush "
           "back"),
    Mutant("replay-bare-bars-past-a-fault-rule", "replay/bare_reads.py",
           "            if self.unfaulted():\n                self.served += 1\n"
           "                return market.minute_bars(symbol, count)",
           "            if True:\n                self.served += 1\n"
           "                return market.minute_bars(symbol, count)",
           ("tests/test_bare_reads.py",),
           "issue 21: a replay's armed bar-read fault is never acted out"),
    Mutant("replay-bare-quotes-past-a-fault-rule", "replay/bare_reads.py",
           "            if self.unfaulted():\n                self.served += 1\n"
           "                return market.quotes(list(symbols))",
           "            if True:\n                self.served += 1\n"
           "                return market.quotes(list(symbols))",
           ("tests/test_bare_reads.py",),
           "issue 21: a replay's armed quote-read fault is never acted out"),
    Mutant("replay-bare-reads-of-another-market", "replay/bare_reads.py",
           " \\\n                or inner.market is not self._market:",
           ":",
           ("tests/test_bare_reads.py",),
           "issue 21: a worker's reads are answered by a market that is not its broker's"),
    Mutant("replay-bare-reads-not-wired", "replay/runner.py",
           "    if bare is not None:\n        bare.watch(worker)\n",
           "",
           ("tests/test_bare_reads.py::test_a_fleet_trades_the_same_with_bare_reads",),
           "issue 21: the replay's bare reads never taken (the speed lever silently off)"),
    Mutant("replay-quotes-of-symbols-not-asked-for", "replay/step_reads.py",
           "        if symbols is not None and self._asked.issuperset(symbols):",
           "        if symbols is not None and self._quote_of:",
           ("tests/test_step_reads.py",),
           "issue 21: a quotes read is answered from this time's earlier reads although one "
           "of its symbols was never read (left out as if unknown)"),
    Mutant("replay-quotes-asked-kept-across-times", "replay/step_reads.py",
           "            self._asked.clear()\n",
           "",
           ("tests/test_step_reads.py",),
           "issue 21: an exit check's quote is answered with an earlier clock time's"),
    # issue 20 (rt20f)
    Mutant("tick-waits-behind-a-bar-read", "worker/tick_exits.py",
           "                    await self.on_tick(tick, give_way=True)",
           "                    await self.on_tick(tick)",
           (TICK + "test_a_stop_crossed_while_a_bar_read_waits_sells_without_it",),
           "issue 20: a stop crossed while the previous tick's minute bars are read waits "
           "in the queue for that read (2.1 s at 20 workers)"),
    Mutant("newer-tick-not-told-to-a-bar-read", "worker/tick_exits.py",
           "        self._ticks.put_nowait(tick)\n        self._queued.set()\n",
           "        self._ticks.put_nowait(tick)\n",
           (TICK + "test_a_stop_crossed_while_a_bar_read_waits_sells_without_it",),
           "issue 20: a tick waiting for its bars never learns that a newer one came"),
    Mutant("bar-read-per-tick", "worker/tick_exits.py",
           "        if self._bars is None or self._bars[0] != key or self._bars[1].done():",
           "        if True:",
           (TICK + "test_ticks_that_give_way_to_newer_ones_share_one_bar_read",),
           "issue 20: every tick that gave way starts one more bar read, each a place in "
           "the account's budget"),
    # issue 21 (speed21h)
    Mutant("replay-step-scan-kept-across-times", "replay/step_scans.py",
           "            if now != self._at:\n                self._at, self._kept = now, {}\n",
           "            self._at = now\n",
           ("tests/test_step_scans.py",),
           "issue 21: a worker's scan is handed a ranking made at an earlier clock time "
           "(old quotes and bars: entries missed or late)"),
    Mutant("replay-step-scan-key-without-the-scan-key", "replay/step_scans.py",
           "key = (tuple(universe), scanner.scan_key(universe))",
           "key = (tuple(universe), '')",
           ("tests/test_step_scans.py",),
           "issue 21: a worker with other filters or parameters is handed another "
           "strategy's ranking"),
    Mutant("replay-step-scan-key-without-the-order", "replay/step_scans.py",
           "key = (tuple(universe), scanner.scan_key(universe))",
           "key = (tuple(sorted(universe)), scanner.scan_key(universe))",
           ("tests/test_step_scans.py",),
           "issue 21: a ranking handed to a worker whose universe is in another order "
           "(its quotes, rows and ties in the other worker's order)"),
    Mutant("replay-step-scan-under-a-fault-now", "replay/step_scans.py",
           "            if kept is not None and self.unfaulted():",
           "            if kept is not None:",
           ("tests/test_step_scans.py",),
           "issue 21: a scan's reads left out while a fault rule is armed (its faults and "
           "random draws shift to later reads)"),
    Mutant("replay-step-scan-made-under-a-fault", "replay/step_scans.py",
           "            if clean and self.unfaulted() and self._market.clock.now() == now:",
           "            if self._market.clock.now() == now:",
           ("tests/test_step_scans.py",),
           "issue 21: a ranking made while a fault rule was armed is handed on"),
    Mutant("replay-step-scan-shared-not-copied", "replay/step_scans.py",
           "                return _copy(kept)",
           "                return kept",
           ("tests/test_step_scans.py",),
           "issue 21: workers share one ranking's lists: one worker's change is another's"),
    Mutant("replay-step-scan-of-another-market", "replay/step_scans.py",
           " \\\n                or inner.market is not self._market:",
           ":",
           ("tests/test_step_scans.py",),
           "issue 21: a scanner over another market is handed this market's rankings"),
    Mutant("replay-step-scan-bars-in-turn-under-a-fault", "replay/step_scans.py",
           "            if not self.unfaulted():\n                return await usual(symbols)\n",
           "",
           ("tests/test_step_scans.py",),
           "issue 21: a scan's bars read in turn while a fault rule is armed (its faults "
           "and random draws met in another order)"),
    Mutant("replay-step-scan-bars-in-turn-count", "replay/step_scans.py",
           "count = int(scanner._strategy.bars_needed) + 1 + SPARE_BARS",
           "count = int(scanner._strategy.bars_needed) + SPARE_BARS",
           ("tests/test_step_scans.py",),
           "issue 21: a scan's bars read in turn without the running minute's bar"),
    Mutant("replay-step-scans-not-wired", "replay/runner.py",
           "    if alike is not None:               # on the scanner, before quiet_scans "
           "wraps the scan\n        alike.watch(cycle)\n",
           "",
           ("tests/test_step_scans.py::test_a_fleet_trades_the_same_with_its_scans_shared",),
           "issue 21: the replay's shared scan rankings never taken (the speed lever "
           "silently off)"),
    # issue 20 (CI fix, eighth session)
    Mutant("budget-waiting-call-ignores-its-started-share", "adapters/postgres/rate_budget.py",
           "            if self.share is not None and self.share.try_spend(new_call=False, "
           "hold=hold):\n",
           "            if False:\n",
           ("tests/test_rate_shares.py::"
            "test_share_that_starts_while_a_call_waits_for_a_grant_is_spent",),
           "issue 20: a call waiting for a grant sleeps past its own share's start (a fleet's "
           "shares left unspent while its calls queue for grants)"),
    # issue 21 (speed21j)
    Mutant("candidates-entry-scan-index-columns",
           "adapters/postgres/migrations/0020_candidates_entry_scan.sql",
           "ON candidates (worker_id, symbol, trading_day, scanned_at);",
           "ON candidates (worker_id, scanned_at);",
           ("tests/test_candidates_entry_scan_index.py",),
           "issue 21: a closed trade's entry scan read by walking every candidate row its "
           "worker wrote (0.68 ms a trade on a replayed fleet-day)"),
    Mutant("candidates-entry-scan-index-missing",
           "adapters/postgres/migrations/0020_candidates_entry_scan.sql",
           "CREATE INDEX candidates_worker_symbol_day_time\n"
           "    ON candidates (worker_id, symbol, trading_day, scanned_at);",
           "SELECT 1;",
           ("tests/test_candidates_entry_scan_index.py",),
           "issue 21: migration 0020 without its index (the replay's days and live alike)"),
    Mutant("candidates-entry-scan-index-keeps-the-old-one",
           "adapters/postgres/migrations/0020_candidates_entry_scan.sql",
           "DROP INDEX candidates_worker_time;\n", "",
           ("tests/test_candidates_entry_scan_index.py::test_backtest_days_have_the_index",),
           "issue 21: the old (worker_id, scanned_at) index kept beside the new one (every "
           "scan's insert pays for both: the lookup's saving spent again)"),
    Mutant("symbol-books-asked-symbols-ignored", "adapters/postgres/orphan_store.py",
           'BOOKS_OF = _BOOKS.format(which=" AND symbol = ANY($2::text[])")',
           'BOOKS_OF = _BOOKS.format(which=" AND ($2::text[] IS NOT NULL)")',
           ("tests/test_symbol_books_query.py::test_books_match_the_earlier_statement",),
           "issue 21: the stray check's books of its held symbols answered with every "
           "symbol the day traded"),
    Mutant("symbol-books-other-days-orders", "adapters/postgres/orphan_store.py",
           "FROM orders WHERE trading_day = $1{{which}}",
           "FROM orders WHERE trading_day <= $1{{which}}",
           ("tests/test_symbol_books_query.py::test_books_match_the_earlier_statement",),
           "issue 21: a day's books counting earlier days' orders (shares bought before "
           "taken as today's, a stray adopted or sold wrongly)"),
    # issue 20 (rt20h)
    Mutant("rate-order-places-count-every-row", M19,
           "count(*) FILTER (WHERE for_order), min(granted_at)",
           "count(*), min(granted_at)",
           (PLACES + "test_an_order_takes_its_own_place_while_the_whole_count_is_full_on_paper",),
           "issue 20: an order's own places judged on the whole count (a sell waits behind "
           "places nobody uses on paper)"),
    Mutant("rate-order-rows-not-marked", M19,
           "VALUES (p_key, t, true);", "VALUES (p_key, t, false);",
           (PLACES + "test_an_order_takes_its_own_place_while_the_whole_count_is_full_on_paper",),
           "issue 20: orders' rows never fill the order places: orders past the limit"),
    Mutant("rate-order-places-one-too-many", M19,
           "IF orders < p_order_places OR", "IF orders <= p_order_places OR",
           (PLACES + "test_an_order_takes_its_own_place_while_the_whole_count_is_full_on_paper",),
           "issue 20: one order place more than the reserve: the limit overrun"),
    Mutant("rate-order-fallback-dropped", M19,
           " OR in_win + shared < p_limit THEN", " THEN",
           (PLACES + "test_an_order_past_the_reads_part_is_granted_by_the_fallback",),
           "issue 20: an order past its own places waits although the limit has room"),
    Mutant("rate-order-fallback-ignores-shares", M19,
           "OR in_win + shared < p_limit THEN", "OR in_win < p_limit THEN",
           (PLACES + "test_past_its_own_places_an_order_is_granted_under_the_whole_limit_only",),
           "issue 20: the fallback leaves out the leased shares: orders past the limit"),
    Mutant("rate-order-fallback-reaches-the-limit", M19,
           "OR in_win + shared < p_limit THEN", "OR in_win + shared <= p_limit THEN",
           (PLACES + "test_past_its_own_places_an_order_is_granted_under_the_whole_limit_only",),
           "issue 20: the fallback grants one past the limit"),
    Mutant("rate-reads-ignore-order-rows", "adapters/postgres/migrations/0006_rate_shares.sql",
           "SELECT count(*), min(granted_at) INTO in_win, oldest",
           "SELECT count(*) FILTER (WHERE NOT for_order), min(granted_at) INTO in_win, oldest",
           (PLACES + "test_reads_and_shares_count_order_rows_and_never_take_an_order_place",),
           "issue 20: reads fill limit - reserve on top of orders granted past the reserve"),
    Mutant("rate-shares-ignore-order-rows",
           "adapters/postgres/migrations/0018_rate_share_kept_places.sql",
           "SELECT count(*) INTO in_win FROM rate_grants WHERE budget_key = p_key;",
           "SELECT count(*) INTO in_win FROM rate_grants WHERE budget_key = p_key "
           "AND NOT for_order;",
           (PLACES + "test_reads_and_shares_count_order_rows_and_never_take_an_order_place",),
           "issue 20: a share starts on top of orders granted past the reserve"),
    Mutant("budget-late-order-row-marked-a-read", "adapters/postgres/rate_budget.py",
           "self._insert_late_grant(order)", "self._insert_late_grant(False)",
           (PLACES + "test_a_late_answer_keeps_the_kind_of_its_place",),
           "issue 20: an order's late row frees its order place: another order on top of it"),
    Mutant("budget-orders-ask-the-whole-count", "adapters/postgres/rate_budget.py",
           "        if order:\n            sql, last = ",
           "        if False:\n            sql, last = ",
           (PLACES + "test_an_order_takes_its_own_place_while_the_whole_count_is_full_on_paper",),
           "issue 20: the budget never asks for an order place (the ~500 ms sell wait back)"),
    # issue 21 (speed21l)
    Mutant("tuning-note-without-its-summary-row", "adapters/postgres/summary_store.py",
           "        \"\"\"WITH summary AS (", "        _NOTE or \"\"\"WITH summary AS (",
           ("tests/test_tuning_notes.py::test_a_note_before_the_days_first_trade_makes_the_"
            "summary_row",),
           "issue 21: a service's note before the day's first trade makes no summary row: "
           "refused (the note lost), or, without the key, never seen by a reader"),
    Mutant("tuning-notes-key-dropped",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           "    FOREIGN KEY (trading_day, worker_id) REFERENCES daily_summaries",
           "    CHECK (true) -- ",
           ("tests/test_tuning_notes.py::test_a_note_before_the_days_first_trade_makes_the_"
            "summary_row",),
           "issue 21: a note may exist without the summary row readers list it through"),
    Mutant("tuning-notes-read-backwards",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           "jsonb_agg(item ORDER BY part, seq)", "jsonb_agg(item ORDER BY part, seq DESC)",
           ("tests/test_tuning_notes.py::test_the_notes_read_back_as_the_json_the_old_append_"
            "kept",),
           "issue 21: a day's notes listed in another order than written"),
    Mutant("tuning-notes-legacy-column-unread",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           "WHERE d.trading_day = p_day AND d.worker_id = p_worker) notes",
           "WHERE false) notes",
           ("tests/test_tuning_notes.py::test_the_migration_carries_the_old_lists_over",),
           "issue 21: notes a still-running older worker appends after the upgrade are lost"),
    Mutant("tuning-migration-reorders-a-list",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           " ORDER BY d.trading_day, d.worker_id, l.key, e.n;",
           " ORDER BY d.trading_day, d.worker_id, l.key, e.n DESC;",
           ("tests/test_tuning_notes.py::test_the_migration_carries_the_old_lists_over",),
           "issue 21: the upgrade lists a day's old notes in another order"),
    Mutant("tuning-migration-leaves-the-column",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           "UPDATE daily_summaries SET tuning = '{}' WHERE tuning <> '{}';", "SELECT 1;",
           ("tests/test_tuning_notes.py::test_the_migration_carries_the_old_lists_over",),
           "issue 21: the upgrade's moved notes are read twice (rows and the column)"),
    Mutant("tuning-migration-takes-a-non-list",
           "adapters/postgres/migrations/0021_tuning_notes.sql",
           "    IF EXISTS (SELECT 1 FROM daily_summaries d,",
           "    IF false AND EXISTS (SELECT 1 FROM daily_summaries d,",
           ("tests/test_tuning_notes.py::test_the_migration_refuses_a_value_that_is_not_a_"
            "list",),
           "issue 21: a hand-written value that is not a list is dropped by the upgrade"),
    # issue 21 (speed21m)
    Mutant("stray-check-interval-ignored", "services/account_reconciler.py",
           "        if now < self._next_stray_check:", "        if False:",
           (MONEY + "test_stray_check_interval_runs_on_the_session_clock",),
           "issue 21: the holdings check looks on every poll (a replay's old schedule)"),
    Mutant("stray-check-session-clock-ignored", "services/account_reconciler.py",
           "time.monotonic if stray_clock is None else", "time.monotonic if True else",
           (MONEY + "test_stray_check_interval_runs_on_the_session_clock",),
           "issue 21: a replay's holdings check on real seconds: its schedule then depends "
           "on the machine's speed"),
    Mutant("stray-check-session-clock-not-wired", "worker/wiring.py",
           "stray_clock=clock if stray_on_session_clock else None", "stray_clock=None",
           (MONEY + "test_stray_check_interval_runs_on_the_session_clock",),
           "issue 21: build_worker drops the replay's session-clock schedule"),
    Mutant("quote-rows-kept-past-their-step", "adapters/sim/quote_rows.py",
           "if self._tape.steps != self._step:", "if self._step == -1:",
           ("tests/test_quote_rows.py",),
           "issue 21: the simulator's quotes stay those of the first step read"),
    Mutant("quote-rows-known-price-of-another-symbol", "adapters/sim/quote_rows.py",
           "memo[(rows[k], p)] = (b, a, rate)", "memo[(rows[k], p)] = (b, a, rate)\n"
           "            memo.setdefault((rows[0], p), (b, a, rate))",
           ("tests/test_quote_rows.py",),
           "issue 21: a price's bid, ask and rate taken from another symbol's row"),
    Mutant("step-reads-newest-bar-kept-past-its-step", "replay/step_reads.py",
           "if tape.steps != self._newest_step:", "if self._newest_step == -1:",
           ("tests/test_step_reads.py::"
            "test_newest_bars_kept_per_step_are_the_markets_for_every_symbol_all_day",),
           "issue 21: the running minute's bar stays the first step's"),
    Mutant("step-reads-newest-bar-without-advance", "replay/step_reads.py",
           "            market._advance()                       # as the market's own",
           "            pass                                    # as the market's own",
           ("tests/test_step_reads.py::"
            "test_newest_bars_kept_per_step_are_the_markets_for_every_symbol_all_day",),
           "issue 21: a bars read that does not move the market to the clock's time"),
    Mutant("scan-json-column-float-unrounded", "services/scan_service.py",
           "            return [None if math.isnan(x) or math.isinf(x) else round(x, 4)",
           "            return [None if math.isnan(x) or math.isinf(x) else x",
           ("tests/test_scan_columns.py",),
           "issue 21: indicator floats stored unrounded (the candidate rows change)"),
    Mutant("scan-json-column-longdouble-as-float", "services/scan_service.py",
           'if kind == "f" and values.dtype.itemsize <= 8:', 'if kind == "f":',
           ("tests/test_scan_columns.py",),
           "issue 21: a longdouble column rounded as numpy, not as a Python float"),
    Mutant("scan-closed-bars-running-minute-in", "services/scan_service.py",
           "return [b for b in bars if b.start <= ended_by]",
           "return [b for b in bars if b.start < ended_by + ONE_MINUTE]",
           ("tests/test_scan_columns.py",),
           "issue 21: the running minute's bar counted as a completed candle"),
    # issue 21 (speed21k)
    Mutant("replay-day-skips-candidate-owner-check", "replay/day_database.py",
           "            await check_owners(conn)\n",
           "            await conn.fetchval('SELECT 1')\n",
           ("tests/test_candidate_owners.py::"
            "test_a_backtest_day_checks_its_candidates_owners_at_its_end",),
           "issue 21: without the foreign key a replayed day must still refuse candidate "
           "rows of an unknown worker, at its end"),
    Mutant("candidate-owner-check-ignores-orphans", "replay/candidate_owners.py",
           "    if orphans:\n", "    if not orphans and False:\n",
           ("tests/test_candidate_owners.py::"
            "test_a_backtest_day_checks_its_candidates_owners_at_its_end",),
           "issue 21: the day's check finds orphans but lets the day pass"),
    Mutant("candidate-owner-check-inverted", "replay/candidate_owners.py",
           " WHERE NOT EXISTS (SELECT 1 FROM workers w", " WHERE EXISTS (SELECT 1 FROM workers w",
           ("tests/test_candidate_owners.py::"
            "test_a_backtest_day_checks_its_candidates_owners_at_its_end",),
           "issue 21: the day's check looks for the wrong rows (fails every correct day, "
           "passes an orphan)"),
    Mutant("backtest-template-keeps-candidate-owner-key", "replay/backtest.py",
           "            await drop_owner_key(conn)", "            pass",
           ("tests/test_candidate_owners.py::"
            "test_a_backtest_day_checks_its_candidates_owners_at_its_end",),
           "issue 21 speed: the template keeps the per-row key check the day-end check "
           "replaces"),
    # issue 21 (txn21)
    Mutant("txn21-money-txn-not-durable", "adapters/postgres/database.py",
           '_BEGIN_DURABLE = "BEGIN; SET LOCAL synchronous_commit = on"',
           '_BEGIN_DURABLE = "BEGIN"',
           ("tests/test_money_transaction.py::"
            "test_a_money_transaction_commits_to_disk_on_an_async_pool_and_the_setting_ends",),
           "issue 21 txn21: the one-round-trip BEGIN drops the synchronous commit"),
    Mutant("txn21-money-txn-commits-on-raise", "adapters/postgres/database.py",
           "await _rollback(conn)            # raised, or cancelled, in the body",
           'await conn.execute("COMMIT")',
           ("tests/test_money_transaction.py::"
            "test_a_money_transaction_whose_body_raises_writes_nothing_and_rolls_back_itself",
            "tests/test_money_transaction.py::"
            "test_a_task_cancelled_inside_a_money_transaction_writes_nothing"),
           "issue 21 txn21: a body that raises or is cancelled commits what it wrote"),
    Mutant("txn21-money-txn-leaves-rollback-to-pool", "adapters/postgres/database.py",
           "await _rollback(conn)            # raised, or cancelled, in the body", "pass",
           ("tests/test_money_transaction.py::"
            "test_a_money_transaction_whose_body_raises_writes_nothing_and_rolls_back_itself",),
           "issue 21 txn21: the failed transaction is left open for the pool's release"),
    Mutant("txn21-money-txn-rollback-skipped", "adapters/postgres/database.py",
           "    if not conn.is_closed():", "    if conn.is_closed():",
           ("tests/test_money_transaction.py::"
            "test_a_money_transaction_whose_body_raises_writes_nothing_and_rolls_back_itself",),
           "issue 21 txn21: the rollback is skipped on a live connection"),
    Mutant("txn21-transition-event-without-move", "adapters/postgres/worker_store.py",
           "SELECT $6::text, $7::text, $8::text, $9::jsonb FROM moved",
           "SELECT $6::text, $7::text, $8::text, $9::jsonb",
           ("tests/test_worker_transition_store.py",),
           "issue 21 txn21: a fenced transition still logs its event"),
    Mutant("txn21-transition-always-moved", "adapters/postgres/worker_store.py",
           "SELECT EXISTS (SELECT 1 FROM moved)", "SELECT true",
           ("tests/test_worker_transition_store.py",),
           "issue 21 txn21: the one-statement transition reports a fenced move as done"),
    Mutant("txn21-report-events-dropped", "adapters/postgres/order_reports.py",
           "*event_columns(events))", "*event_columns([]))",
           ("tests/test_order_service.py::"
            "test_sc005_lock_create_send_track_fills_and_opens_position",),
           "issue 21 txn21: a report's status and events statement stores no events"),
    # issue 21 (events21)
    Mutant("deferred-events-day-not-flushed", "replay/runner.py",
           "        await held.flush()      # the rows kept since the last statement that "
           "named them",
           "        pass",
           ("tests/test_deferred_events.py::test_a_day_ends_with_its_kept_events_stored_in_"
            "the_order_published",),
           "issue 21 (events21): the events a day's last polls kept are never stored"),
    Mutant("deferred-events-stamped-when-stored", "replay/deferred_events.py",
           "SELECT t, w, s, p, now() - make_interval(secs => a)",
           "SELECT t, w, s, p, now()",
           ("tests/test_deferred_events.py::test_a_kept_event_is_stamped_with_the_time_it_"
            "was_published",),
           "issue 21 (events21): a kept event's occurred_at is when it was stored, steps "
           "after it was published"),
    Mutant("deferred-events-stamps-swapped", "replay/deferred_inserts.py",
           "[now - at for _, at in kept]",
           "[now - at for _, at in kept[::-1]]",
           ("tests/test_deferred_events.py::test_a_kept_event_is_stamped_with_the_time_it_"
            "was_published",),
           "issue 21 (events21): a kept event is stamped with another one's time"),
    Mutant("deferred-events-insert-reorders", "replay/deferred_events.py",
           " ORDER BY n\n", " ORDER BY n DESC\n",
           ("tests/test_deferred_events.py::test_published_events_are_stored_in_order_before_"
            "the_next_statement",),
           "issue 21 (events21): the one INSERT gives the kept events ids out of their "
           "publish order"),
    # issue 21 (scan21)
    Mutant("candidate-json-items-out-of-order", "adapters/postgres/candidate_store.py",
           "r.volume, r.traded_value, str(r.change_rate)",
           "r.traded_value, r.volume, str(r.change_rate)",
           ("tests/test_candidate_store.py",),
           "issue 21 speed: a row's JSON items no longer in the order the statement reads "
           "them (volume and traded value swapped in the stored rows)"),
    Mutant("candidate-json-rejected-not-split", "adapters/postgres/candidate_store.py",
           "string_to_array(e->>7, ',')", "ARRAY[e->>7]",
           ("tests/test_candidate_store.py",),
           "issue 21 speed: rejected_by stored as one joined name ({''} for none) instead "
           "of the unnest statement's array"),
    Mutant("candidate-json-null-spread-as-zero", "adapters/postgres/candidate_store.py",
           "(e->>5)::int", "coalesce((e->>5)::int, 0)",
           ("tests/test_candidate_store.py",),
           "issue 21 speed: a quote without a spread stored as 0 ticks, not NULL"),
    Mutant("backtest-template-keeps-unread-candidate-indexes", "replay/backtest.py",
           "            await drop_unread_indexes(conn)", "            pass",
           ("tests/test_unread_candidate_indexes.py::"
            "test_a_backtest_template_has_only_the_index_a_day_reads",),
           "issue 21 speed: every scan's insert still updates the two indexes nothing reads"),
    Mutant("unread-candidate-indexes-keeps-the-key", "replay/unread_candidate_indexes.py",
           '_DROPS = ("ALTER TABLE candidates DROP CONSTRAINT candidates_pkey",\n          ',
           "_DROPS = (",
           ("tests/test_unread_candidate_indexes.py::"
            "test_a_backtest_template_has_only_the_index_a_day_reads",),
           "issue 21 speed: the primary key (the costlier of the two, every row) kept"),
    # issue 21 (stray21)
    Mutant("books-of-symbols-without-orders", "adapters/postgres/orphan_store.py",
           "     GROUP BY o.symbol\n    HAVING bool_or(o.ordered)", "     GROUP BY o.symbol",
           ("tests/test_symbol_books_query.py::test_books_match_the_earlier_statement",),
           "issue 21 speed: a symbol none of today's orders names gets a book (the "
           "statement no longer answers what it answered)"),
    # issue 21 (fix21)
    Mutant("parallel-days-databases-dropped-only-at-the-end", "replay/backtest.py",
           "            await self._admin(f'DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)')\n"
           "            self.created.remove(name)\n",
           "            pass\n",
           ("tests/test_parallel_days.py::"
            "test_days_in_processes_trade_as_one_process_and_drop_each_database_as_it_ends",),
           "issue 21: a day's database stays until the last day ends (the drops all wait "
           "for the end of the backtest, on its wall time)"),
    Mutant("parallel-days-release-drops-kept-databases", "replay/backtest.py",
           "        if not self._keep:\n", "        if True:\n",
           ("tests/test_parallel_days.py::test_kept_databases_stay_when_days_run_in_processes",),
           "issue 21: --keep-databases loses each day's database as soon as its day ends"),
    Mutant("parallel-days-next-day-not-handed-on", "replay/parallel_days.py",
           "                    if ahead is not None:               # its process: straight on\n"
           "                        await give()\n", "",
           ("tests/test_parallel_days.py::"
            "test_days_in_processes_trade_as_one_process_and_drop_each_database_as_it_ends",),
           "issue 21: the days after the first wave never run"),
    # issue 21 (py21)
    Mutant("py21-bars-of-not-advanced", "replay/step_reads.py",
           "                        market._advance()\n"
           "                        end = market._tape.minutes_started()",
           "                        end = market._tape.minutes_started()",
           ("tests/test_step_reads.py::"
            "test_bars_of_many_symbols_at_once_are_each_ones_own_read_all_day",),
           "issue 21 speed: a scan's bars read at once from a tape left at an earlier time"),
    Mutant("py21-bars-of-unknown-symbol-from-the-tape", "replay/step_reads.py",
           "elif count > 0 and symbol in market._index:", "elif count > 0:",
           ("tests/test_step_reads.py::"
            "test_bars_of_many_symbols_at_once_are_each_ones_own_read_all_day",),
           "issue 21 speed: an unknown symbol read at once fails otherwise than the market's "
           "read (KeyError, not the broker's rejection)"),
    Mutant("py21-bars-of-none-from-the-tape", "replay/step_reads.py",
           "elif count > 0 and symbol in market._index:", "elif symbol in market._index:",
           ("tests/test_step_reads.py::"
            "test_bars_of_many_symbols_at_once_are_each_ones_own_read_all_day",),
           "issue 21 speed: a read of no bars at once answers the running minute's bar"),
    Mutant("py21-bars-at-once-past-the-metering", "replay/step_scans.py",
           "                and self._bare.reads_straight(broker)\n", "",
           ("tests/test_step_scans.py::"
            "test_bars_are_read_at_once_as_in_turn_only_through_the_retry_and_bare_reads",),
           "issue 21 speed: a scan's bars read at once on a broker the bare reads were not "
           "given (its metering and fault checks left out)"),
    Mutant("py21-bars-at-once-past-another-read", "replay/step_scans.py",
           "\n                and type(getattr(read, \"__self__\", None)) is BrokerReadRetry)",
           ")",
           ("tests/test_step_scans.py::"
            "test_bars_are_read_at_once_as_in_turn_only_through_the_retry_and_bare_reads",),
           "issue 21 speed: a scan's bars read at once past a reader that is not the "
           "worker's retry (whatever it does per read left out)"),
    # issue 21 (cand21)
    Mutant("kept-scans-never-stored", "replay/runner.py",
           "        held.deferred = [k for k in (deferred, kept) if k is not None]",
           "        held.deferred = [k for k in (deferred,) if k is not None]",
           ("tests/test_deferred_candidates.py::"
            "test_a_replayed_day_stores_the_rows_and_trade_notes_it_stored_unkept",),
           "issue 21 (cand21): a replayed day's scans are kept and never stored (no "
           "candidate rows, no entry scan in the trade notes)"),
    Mutant("kept-scans-day-end-asks-the-events-only", "replay/held_connections.py",
           "        if any(kept.due() for kept in self.deferred):",
           "        if self.deferred and self.deferred[0].due():",
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_wait_for_a_statement_naming_candidates_a_block_or_the_"
            "day_end",),
           "issue 21 (cand21): the day's end stores the kept scans only when events are "
           "kept too (the scans of a day's last polls are lost)"),
    Mutant("kept-scans-not-before-a-statement-naming-them", "replay/deferred_candidates.py",
           '    table = "candidates"', '    table = "candidates_"',
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_wait_for_a_statement_naming_candidates_a_block_or_the_"
            "day_end",),
           "issue 21 (cand21): a statement that reads candidates runs before the scans "
           "kept ahead of it are stored"),
    Mutant("kept-scans-not-before-a-block", "replay/deferred_inserts.py",
           "        return not isinstance(query, str) or self.table in query.lower()",
           "        return isinstance(query, str) and self.table in query.lower()",
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_wait_for_a_statement_naming_candidates_a_block_or_the_"
            "day_end",
            "tests/test_deferred_candidates.py::"
            "test_a_replayed_day_stores_the_rows_and_trade_notes_it_stored_unkept"),
           "issue 21 (cand21): a block (a fill's transaction, whose close reads the entry "
           "scan) runs before the kept scans are stored"),
    Mutant("kept-scans-stamped-when-stored", "adapters/postgres/candidate_store.py",
           "k.param_version, now() - make_interval(secs => k.age)", "k.param_version, now()",
           ("tests/test_deferred_candidates.py::"
            "test_a_kept_scan_is_stamped_with_the_time_it_was_scanned",),
           "issue 21 (cand21): a kept scan's scanned_at is when it was stored, steps after "
           "the scan (after the entry it led to: the trade note loses its entry scan)"),
    Mutant("kept-scans-stamps-swapped", "adapters/postgres/candidate_store.py",
           "            list(ages), [json.dumps(", "            ages[::-1], [json.dumps(",
           ("tests/test_deferred_candidates.py::"
            "test_a_kept_scan_is_stamped_with_the_time_it_was_scanned",),
           "issue 21 (cand21): a kept scan is stamped with another one's time"),
    Mutant("kept-scans-out-of-order", "replay/deferred_candidates.py",
           "*scan_columns(scans, ages)", "*scan_columns(scans[::-1], ages[::-1])",
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_are_stored_in_one_statement_as_their_own_inserts_store_"
            "them",),
           "issue 21 (cand21): the kept scans get their candidate ids out of scan order"),
    Mutant("kept-scans-version-from-the-name", "adapters/postgres/candidate_store.py",
           "k.strategy_name, k.strategy_version,", "k.strategy_name, k.strategy_name,",
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_are_stored_in_one_statement_as_their_own_inserts_store_"
            "them",),
           "issue 21 (cand21): a kept scan's strategy_version column is read from another "
           "item of the scan"),
    Mutant("kept-scans-keep-empty-ones", "replay/deferred_candidates.py",
           "            if not rows:\n                return 0\n            self.keep(",
           "            self.keep(",
           ("tests/test_deferred_candidates.py::"
            "test_kept_scans_wait_for_a_statement_naming_candidates_a_block_or_the_"
            "day_end",),
           "issue 21 (cand21): a scan with no rows is kept (a statement for nothing)"),
    # issue 21 (twelfth session): a day's process collector and its pool's statement guard
    Mutant("day-collector-not-in-day-processes", "replay/parallel_days.py",
           "    tune_for_days()                          # after the imports",
           "    pass                                     # after the imports",
           ("tests/test_day_collector.py::test_a_day_process_collects_as_a_day_wants_with_its_"
            "imports_frozen",),
           "issue 21: the day processes collect garbage with Python's default thresholds"),
    Mutant("day-collector-one-process-not-tuned", "replay/day_collector.py",
           "    before = gc.get_threshold()\n    tune_for_days()",
           "    before = gc.get_threshold()\n    gc.get_threshold()",
           ("tests/test_day_collector.py::test_a_one_process_backtest_runs_its_days_so_and_"
            "gives_python_its_own_back",),
           "issue 21: a one-process backtest's days run with Python's default collector"),
    Mutant("day-collector-not-given-back", "replay/day_collector.py",
           "        gc.set_threshold(*before)\n        gc.unfreeze()",
           "        pass",
           ("tests/test_day_collector.py::test_a_one_process_backtest_runs_its_days_so_and_"
            "gives_python_its_own_back",),
           "issue 21: a one-process backtest leaves its process's collector tuned and "
           "frozen after the days"),
    Mutant("day-database-timer-per-statement", "replay/day_database.py",
           "reset_sessions=False, command_timeout=None,",
           "reset_sessions=False, command_timeout=10.0,",
           ("tests/test_day_collector.py::test_a_day_database_guards_its_statements_on_the_"
            "server_not_with_a_timer_each",),
           "issue 21: a day's pool arms a loop timer for every statement again"),
    Mutant("day-database-no-server-guard", "adapters/postgres/database.py",
           'settings["statement_timeout"] = f"{round(server_timeout_s * 1000)}ms"',
           "pass",
           ("tests/test_day_collector.py::test_a_day_database_guards_its_statements_on_the_"
            "server_not_with_a_timer_each",),
           "issue 21: a day's statements have no hung-statement guard at all"),
]


def _copy_src(dest: Path) -> Path:
    src = dest / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def _apply(src: Path, m: Mutant) -> None:
    target = src / "tradefleet" / m.path
    text = target.read_text()
    count = text.count(m.old)
    if count != 1:
        raise LookupError(f"{m.name}: the code to mutate occurs {count} times in {m.path}")
    target.write_text(text.replace(m.old, m.new))


def _run(m: Mutant) -> tuple[str, float, str]:
    """(verdict, seconds, last lines of output); verdict killed/survived/stale/error."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name[:20]}-") as tmp:
        src = _copy_src(Path(tmp))
        try:
            _apply(src, m)
        except LookupError as exc:
            return "stale", 0.0, str(exc)
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
        probe = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "-c", "import tradefleet; print(tradefleet.__file__)"],
            env=env, capture_output=True, text=True, cwd=ROOT, check=False)
        if not probe.stdout.strip().startswith(str(src)):
            return "error", 0.0, f"the mutated copy is not imported: {probe.stdout}{probe.stderr}"
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               f"--timeout={PER_MUTANT_TIMEOUT_S}", *m.tests]
        try:
            done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                                  timeout=PER_MUTANT_TIMEOUT_S + 60, check=False)
        except subprocess.TimeoutExpired:
            return "killed", time.monotonic() - started, "timed out (counted as killed)"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-3:])
    verdict = {0: "survived", 1: "killed"}.get(done.returncode, "error")
    return verdict, time.monotonic() - started, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("-j", type=int, default=2, help="mutants run at once (2)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.why}\n    {' '.join(m.tests)}")
        return 0
    began = time.monotonic()
    failed = []
    with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        for m, (verdict, seconds, tail) in zip(chosen, pool.map(_run, chosen), strict=True):
            print(f"{verdict:9} {seconds:6.1f}s  {m.name}", flush=True)
            if verdict != "killed":
                failed.append(m.name)
                print("          " + tail.replace("\n", "\n          "), flush=True)
    total = time.monotonic() - began
    print(f"{len(chosen) - len(failed)}/{len(chosen)} mutants killed in {total:.0f}s")
    if failed:
        print("not killed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
