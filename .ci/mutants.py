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
           '''        if await self._orders_open():
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
    Mutant("refused-pod-leaves-no-degraded-status", "operator/worker_controller.py",
           "actions=kept,\n                               degraded=problem,",
           "actions=kept,\n                               degraded=None,",
           ("tests/operator/test_operator_pod_refused.py",),
           "a pod refused by a ResourceQuota leaves the TradingWorker without a Degraded "
           "condition or Event naming the cause"),
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
