"""Piped command output keeps the summary tables readable."""

from tradefleet.commands.console import PIPED_WIDTH, command_console


def test_piped_output_is_wide_unless_columns_says_otherwise(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = command_console()
    assert not console.is_terminal
    assert console.width == PIPED_WIDTH
    monkeypatch.setenv("COLUMNS", "97")
    assert command_console().width == 97
