"""Chaos benchmark. Run: python3 bench/chaos.py [--runs N] [--kinds a,b] [--workers 3]
[--speed 500] [--symbols 20] [--ttl 5] [--seed 7] [--late-start] [--grace S] [--json FILE]
(the same as ``tradefleet chaos``; ~55 s a run for a whole day at 500x, ~20-35 s with
``--late-start --speed 200 --grace 2``, which plays only the end of the day: the fault, its
recovery and the forced liquidation).

Plays whole simulated sessions of a local fleet (embedded PostgreSQL of its own, the exchange
simulator, N worker processes on one compressed clock), injecting ONE fault kind per run at a
seeded random moment of the trading hours: a worker paused past its TTL, killed and restarted,
killed for good; the database restarted, or down past the TTL; broker timeouts, 5xx, dropped
answers, rate limits on the order and status calls; one lost order answer; a person holding
shares from before the day and trading by hand on the same account (also while a quarter of
the workers' orders are refused); the WebSocket feed dropped or stalled, or the worker holding
it killed (those runs play with the feed on); or nothing (the baseline). Each run is judged by the
exchange's own books; the table prints what every column means. Exit code 1 if any run broke
an invariant or never recovered."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.commands.chaos import add_arguments, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/chaos.py", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
