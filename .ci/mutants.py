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
MONEY = "tests/test_money_paths.py::"
FENCE = "tests/test_send_fence.py::"
GUARDS = "tests/test_money_guards.py::"
CHAOS = "tests/test_chaos.py::"
COST = "tests/operator/test_operator_api_cost.py::"
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
    Mutant("partial-fill-counted-cumulatively", "adapters/postgres/order_store.py",
           "            new_qty = report.filled_qty - row.filled_qty\n",
           "            new_qty = report.filled_qty\n",
           (GUARDS + "test_two_increasing_partial_fill_reports_are_both_recorded_once",),
           "a second partial-fill report records the whole cumulative quantity again"),
    Mutant("fill-key-per-order-drops-the-second-partial", "adapters/postgres/order_store.py",
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
    Mutant("expired-row-shown-working-stays-expired", "adapters/postgres/order_store.py",
           "            reopened = row.status is OrderStatus.EXPIRED and not report.is_done",
           "            reopened = False",
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
