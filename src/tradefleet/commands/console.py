"""The rich console every command prints with."""

from __future__ import annotations

import os

from rich.console import Console

PIPED_WIDTH = 140


def command_console() -> Console:
    """A terminal keeps its own width; piped output (CI logs, ``| tee``) would get rich's 80
    columns, which folds the summary tables into unreadable cells, so it gets a wider page
    unless ``COLUMNS`` says otherwise."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=PIPED_WIDTH)
    return console
