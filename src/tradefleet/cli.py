"""The ``tradefleet`` command. Each subcommand lives in ``tradefleet.commands.<name>`` and
exposes ``register(subparsers)``; this file only wires them together."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in help order. A module that is missing is skipped, not fatal.
COMMANDS = ("demo", "worker", "exchange", "report", "db", "secrets", "chaos", "operator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradefleet", description="Fleet of intraday KRX auto-trading workers")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tradefleet.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tradefleet.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
