"""One module per ``tradefleet`` subcommand; each defines ``register(subparsers)`` and sets
``handler`` on its parser to a function taking the parsed args and returning an exit code."""
