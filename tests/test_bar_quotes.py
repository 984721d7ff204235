"""Bars-only days (CSV-imported) replayed on quotes synthesised from their bars (issue 21:
``replay.bar_quotes``): the tape the replay exchange builds from those quotes has the CSV's
own minute bars, and ``tradefleet backtest`` runs such a day, deterministically, flat at the
close, once the market its symbols trade on is named."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tradefleet.cli import main
from tradefleet.domain.calendar import SEOUL
from tradefleet.replay.bar_quotes import with_bar_quotes
from tradefleet.replay.csv_bars import import_csv
from tradefleet.replay.day_format import write_day
from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe
from tradefleet.replay.sim_source import record_sim_day

DAY, SEED, SYMBOLS = date(2026, 11, 24), 11, 12


@pytest.fixture(scope="module")
def csv_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated day's minute bars written out as a user's CSV, then imported."""
    folder = tmp_path_factory.mktemp("csv")
    bars = record_sim_day(SEED, SYMBOLS, DAY).bars
    path = folder / "bars.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["symbol", "start", "open", "high", "low", "close", "volume"])
        for i in range(len(bars["symbol"])):
            local = datetime.fromtimestamp(int(bars["start"][i]) / 1000, UTC).astimezone(SEOUL)
            out.writerow([bars["symbol"][i], f"{local:%Y-%m-%d %H:%M}",
                          *(int(bars[k][i]) for k in ("open", "high", "low", "close",
                                                      "volume"))])
    (day,) = import_csv([path])
    assert day.quotes is None
    write_day(folder / "data", day)
    return folder


def test_the_replayed_minute_bars_are_the_csvs(csv_day: Path) -> None:
    from tradefleet.replay.day_format import read_day

    day = with_bar_quotes(read_day(csv_day / "data" / str(DAY)))
    universe = recorded_universe(day, unknown_market="KOSPI")
    tape = RecordedTape(day, universe.symbols)
    while tape.steps < tape.last_step:
        tape.step()
    bars = day.bars
    open_ms = int(day.meta.session_open.timestamp() * 1000)
    assert len(bars["symbol"]) > SYMBOLS * 300
    for i in range(len(bars["symbol"])):
        col = universe.symbols.index(str(bars["symbol"][i]))
        minute = (int(bars["start"][i]) - open_ms) // 60_000
        got = (tape.bar_open[minute, col], tape.bar_high[minute, col],
               tape.bar_low[minute, col], tape.bar_close[minute, col],
               tape.bar_volume[minute, col])
        assert got == tuple(int(bars[k][i]) for k in ("open", "high", "low", "close",
                                                      "volume")), (bars["symbol"][i], minute)
    assert (with_bar_quotes(read_day(csv_day / "data" / str(DAY))).quotes["price"]
            == day.quotes["price"]).all()                           # deterministic


def _backtest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_csv_day_backtests_the_same_twice_and_ends_flat(csv_day, pg_server_uri,  # noqa: ANN001
                                                          capsys) -> None:  # noqa: ANN001
    config = csv_day / "worker.yaml"
    config.write_text("poll_interval_seconds: 5\nrisk: {capital_limit: 5000000, "
                      "daily_loss_limit: 10000000}\nfilters: {min_volume: 0, "
                      "min_traded_value: 0, max_spread_ticks: 50}\nexits: {stop_loss_pct: "
                      "'0.3', take_profit_pct: '0.3', time_exit_minutes: 0}\nstrategy: "
                      "{params: {short: 2, long: 5, breakout_window: 5}}\n")
    argv = ["--data", str(csv_day / "data"), "--from", str(DAY), "--config", str(config),
            "--start", "14:45", "--pg-dsn", pg_server_uri,
            "--report", str(csv_day / "report.html")]
    code, _, err = _backtest(capsys, *argv)
    assert code == 2 and "--unknown-market" in err                 # a CSV names no market
    first = _backtest(capsys, *argv, "--unknown-market", "KOSPI")
    second = _backtest(capsys, *argv, "--unknown-market", "KOSPI")
    assert first[0] == 0, first[2]
    print("\n" + first[1] + first[2])
    assert second[1] == first[1]                                   # byte for byte
    total = next(line.split() for line in first[1].splitlines() if line.startswith("total"))
    assert int(total[1]) > 0 and total[7] == "0"                   # traded; flat at the close
    assert f"{DAY} (bars only: quotes from bars)" in first[1]
