"""The ``tradefleet`` command. Each subcommand lives in ``tradefleet.commands.<name>`` and
exposes ``register(subparsers)``; this file only wires them together."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in help order. A module that is missing is skipped, not fatal.
COMMANDS = ("demo", "worker", "exchange", "record", "backtest", "report", "tune", "params",
            "db", "secrets", "chaos", "operator", "console")
# a command whose module has another name (commands/console.py is the terminal's console)
MODULES = {"console": "console_web"}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Every subcommand; or, when ``argv`` starts with a subcommand's name, only that one: a
    worker pod starts without importing the operator, the demo or the report (start-up is
    recovery). Help and a mistyped command still see them all."""
    parser = argparse.ArgumentParser(
        prog="tradefleet", description="Fleet of intraday KRX auto-trading workers")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name in (chosen,) if chosen else COMMANDS:
        try:
            module = importlib.import_module(
                f"tradefleet.commands.{MODULES.get(name, name)}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tradefleet.commands.{MODULES.get(name, name)}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
