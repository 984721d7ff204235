"""Recorded market data (issue 21, item 1): ``tradefleet record`` from the exchange
simulator (in-process, and over HTTP through the KIS adapter and the fleet's rate budget),
and CSV minute bars. Each recorded day is read back through the documented format and
checked against an independent simulator of the same seed, not against itself."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import kis_config

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.cli import main
from tradefleet.replay.csv_bars import CsvImportError, import_csv
from tradefleet.replay.day_format import (
    BOOK_LEVELS,
    QUOTES_SCHEMA,
    RecordedDay,
    read_day,
)
from tradefleet.replay.live_recorder import LiveRecorder

DAY = date(2026, 11, 24)
OPEN = datetime.combine(DAY, time(9, 0), tzinfo=SEOUL)
CLOSE = datetime.combine(DAY, time(15, 30), tzinfo=SEOUL)


def _rows_at(day: RecordedDay, at: datetime) -> dict[str, int]:
    """Row index per symbol of the quote snapshot taken at ``at``."""
    assert day.quotes is not None
    ms = int(at.timestamp() * 1000)
    return {str(day.quotes["symbol"][i]): int(i) for i in np.flatnonzero(day.quotes["at"] == ms)}


def _assert_quotes_match(day: RecordedDay, market: SimMarket, clock: FrozenClock,
                         at: datetime, *, levels: bool, every_symbol: bool = True) -> None:
    """The rows stamped ``at`` hold what the simulator quotes at that instant (a snapshot
    taken at once holds every symbol; one read over HTTP may stamp symbols apart)."""
    clock.set(at)
    rows = _rows_at(day, at)
    assert rows
    if every_symbol:
        assert sorted(rows) == sorted(market.symbols())
    q = day.quotes
    for symbol, i in rows.items():
        want, asks, bids = market.quote_with_book(symbol)
        for name in ("price", "volume", "traded_value", "open", "high", "low", "prev_close",
                     "ask", "bid", "upper_limit", "lower_limit"):
            assert int(q[name][i]) == getattr(want, name), (symbol, name)
        assert int(q["change_bp"][i]) == int(want.change_rate * 100)
        if levels:
            got = [(int(q[f"ask_px_{n}"][i]), int(q[f"ask_qty_{n}"][i]))
                   for n in range(1, BOOK_LEVELS + 1) if q[f"ask_px_{n}"][i]]
            assert got == asks
            got = [(int(q[f"bid_px_{n}"][i]), int(q[f"bid_qty_{n}"][i]))
                   for n in range(1, BOOK_LEVELS + 1) if q[f"bid_px_{n}"][i]]
            assert got == bids


def _assert_bars_match(day: RecordedDay, market: SimMarket, clock: FrozenClock,
                       first: datetime, last_end: datetime) -> None:
    """Every closed minute bar from ``first`` to ``last_end``, as the simulator has it."""
    clock.set(CLOSE)
    b = day.bars
    for symbol in market.symbols():
        want = [x for x in market.minute_bars(symbol, 400)
                if x.start >= first and x.start + timedelta(minutes=1) <= last_end]
        mask = b["symbol"] == symbol
        assert mask.sum() == len(want) > 0
        assert b["start"][mask].tolist() == [int(x.start.timestamp()) * 1000 for x in want]
        for name in ("open", "high", "low", "close", "volume"):
            assert b[name][mask].tolist() == [getattr(x, name) for x in want], (symbol, name)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_simulated_day_is_recorded_as_the_simulator_has_it_and_byte_for_byte_again(tmp_path):
    args = ["record", "--sim", "--seed", "11", "--symbols", "8", "--day", DAY.isoformat(),
            "--every", "60"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    folder = tmp_path / "a" / DAY.isoformat()
    assert _digest(folder) == _digest(tmp_path / "b" / DAY.isoformat())   # deterministic
    day = read_day(folder)
    assert day.meta.day == DAY and day.meta.book_levels == BOOK_LEVELS
    assert day.meta.rows == {"bars": 8 * 390, "quotes": 8 * 391}      # the close's quote too
    clock = FrozenClock(OPEN)
    market = SimMarket(11, n_symbols=8, clock=clock)
    assert day.meta.symbols == {i.symbol: i.market for i in market.symbol_infos()}
    for at in (OPEN, OPEN + timedelta(minutes=137), CLOSE - timedelta(minutes=1), CLOSE):
        _assert_quotes_match(day, market, clock, at, levels=True)
    _assert_bars_match(day, market, clock, OPEN, CLOSE)


def test_a_recorded_day_is_not_replaced_unless_asked(tmp_path, capsys):
    args = ["record", "--sim", "--symbols", "2", "--day", DAY.isoformat(), "--every", "600",
            "--out", str(tmp_path)]
    assert main(args) == 0
    before = _digest(tmp_path / DAY.isoformat())
    capsys.readouterr()
    assert main([*args[:-2], "--seed", "8", "--out", str(tmp_path)]) == 2
    assert (f"--out: {tmp_path / DAY.isoformat()} already exists (pass --overwrite"
            in capsys.readouterr().out)
    assert _digest(tmp_path / DAY.isoformat()) == before
    assert main([*args[:-2], "--seed", "8", "--overwrite", "--out", str(tmp_path)]) == 0
    assert _digest(tmp_path / DAY.isoformat()) != before
    assert main(["record", "--sim", "--every", "15", "--day", DAY.isoformat(),
                 "--out", str(tmp_path / "x")]) == 2
    assert "--every: must be a multiple of 10" in capsys.readouterr().out
    assert not (tmp_path / "x").exists()


class _FastExchange(ExchangeThread):
    """The simulator with a gateway budget fit for a test that reads a whole day's bars."""

    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self._config = ExchangeConfig(mode="real", rate_limit_per_second=2000)


async def test_a_live_session_is_recorded_over_http_as_the_exchange_has_it():
    clock = FrozenClock(datetime.combine(DAY, time(15, 20), tzinfo=SEOUL))
    with _FastExchange(n_symbols=6, seed=5, clock=clock) as ex:
        async with aiohttp.ClientSession() as http:
            broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=clock,
                                           rate_per_second=2000)
            recorder = LiveRecorder(broker, clock, ex.market.symbols(), session_open=OPEN,
                                    session_close=CLOSE, every_s=60, source="exchange:test")
            day = await recorder.record()      # the frozen clock's sleep moves it on
    assert recorder.status.snapshots == 10 and recorder.status.failed_snapshots == 0
    assert day.meta.complete and day.meta.book_levels == 0
    check_clock = FrozenClock(OPEN)
    market = SimMarket(5, n_symbols=6, clock=check_clock)
    for minute in (0, 4, 9):
        _assert_quotes_match(day, market, check_clock,
                             datetime.combine(DAY, time(15, 20 + minute), tzinfo=SEOUL),
                             levels=False)
    _assert_bars_match(day, market, check_clock, OPEN, CLOSE)
    assert set(day.quotes) == set(QUOTES_SCHEMA.names)


async def test_a_recording_stopped_early_keeps_only_closed_bars_and_says_incomplete():
    clock = FrozenClock(datetime.combine(DAY, time(10, 0, 30), tzinfo=SEOUL))
    with _FastExchange(n_symbols=3, seed=5, clock=clock) as ex:
        async with aiohttp.ClientSession() as http:
            broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=clock,
                                           rate_per_second=2000)

            def stop_after_three(at: datetime, status) -> None:  # noqa: ANN001
                if status.snapshots == 3:
                    recorder.stop()          # Ctrl-C or SIGTERM in the command

            recorder = LiveRecorder(broker, clock, ex.market.symbols(), session_open=OPEN,
                                    session_close=CLOSE, every_s=60, source="exchange:test",
                                    progress=stop_after_three)
            day = await recorder.record()
    assert not day.meta.complete and recorder.status.snapshots == 3
    stopped_at = clock.now()                                # 10:02:30, inside 10:02's minute
    assert stopped_at.minute == 2
    check_clock = FrozenClock(OPEN)
    _assert_bars_match(day, SimMarket(5, n_symbols=3, clock=check_clock), check_clock, OPEN,
                       stopped_at)                          # 09:00-10:01, not 10:02


def test_the_record_command_records_the_exchange_simulator_through_the_fleet_budget(
        tmp_path, pg_dsn, monkeypatch):
    """``tradefleet record`` with sim settings pointing at a ``tradefleet exchange`` over
    HTTP, on the shared simulated clock: the last two minutes of the session at 60x."""
    clock = SimClock(datetime.combine(DAY, time(15, 28), tzinfo=SEOUL), speed=60)
    with ExchangeThread(n_symbols=3, seed=9, clock=clock) as ex:
        for name, value in {"TRADEFLEET_SIM_CLOCK": clock.to_env(), "TRADEFLEET_MODE": "sim",
                            "TRADEFLEET_BROKER__BASE_URL": ex.base_url,
                            "TRADEFLEET_DB__DSN": pg_dsn,
                            "TRADEFLEET_UNIVERSE": ",".join(ex.market.symbols())}.items():
            monkeypatch.setenv(name, value)
        assert main(["record", "--every", "20", "--out", str(tmp_path)]) == 0
    day = read_day(tmp_path / DAY.isoformat())
    assert day.meta.complete and day.meta.source == "exchange:sim"
    assert day.meta.rows["quotes"] >= 4 * 3          # 2 session minutes, one every 20 s
    check_clock = FrozenClock(OPEN)
    market = SimMarket(9, n_symbols=3, clock=check_clock)
    history: dict[datetime, dict[str, tuple[int, int]]] = {}   # the market's steps, in order
    step = datetime.combine(DAY, time(15, 27), tzinfo=SEOUL)
    while step < CLOSE:
        check_clock.set(step)
        history[step] = {s: (x.price, x.volume) for s, x in market.quotes().items()}
        step += timedelta(seconds=10)
    q = day.quotes
    for i in range(len(q["at"])):      # on a running clock a quote is stamped on arrival:
        at = datetime.fromtimestamp(q["at"][i] / 1000, SEOUL)    # it is some step's, not later
        seen = [values[str(q["symbol"][i])] for when, values in history.items() if when <= at]
        assert (int(q["price"][i]), int(q["volume"][i])) in seen, at
    _assert_bars_match(day, market, check_clock, OPEN, CLOSE)


GOOD_CSV = """symbol,start,open,high,low,close,volume,note
005930,2026-11-24 09:00,71000,71200,70900,71100,1500,x
005930,2026-11-24 09:01,71100,71300,71000,71250,980,
000660,2026-11-24T00:02:00+00:00,120000,120500,119500,120000,0,
005930,2026-11-25 15:29,72000,72000,72000,72000,10,
"""

BAD_CSV = """volume,symbol,start,open,high,low,close
10,005930,2026-11-24 09:00,71000,71200,70900,71100
x,005930,2026-11-24 09:01,71100,71300,71000,71250
10,5930,2026-11-24 09:02,71100,71300,71000,71250
10,005930,2026-11-24 09:03:30,71100,71300,71000,71250
10,005930,2026-11-24 09:04,71100,70000,71000,71250
10,005930,2026-11-24 16:00,71100,71300,71000,71250
10,005930,2026-11-24 09:00,71000,71200,70900,71100
10,005930,2026-11-29 10:00,71000,71200,70900,71100
10,005930,2026-11-24 09:05,0,71300,71000,71250
"""


def _sessions(day: date):  # noqa: ANN202
    from tradefleet.domain.calendar import regular_session
    return None if day.weekday() >= 5 else regular_session(day)


def test_csv_bars_are_imported_one_folder_a_day(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(GOOD_CSV)
    assert main(["record", "--csv", str(path), "--out", str(tmp_path / "data")]) == 0
    first = read_day(tmp_path / "data" / "2026-11-24")
    second = read_day(tmp_path / "data" / "2026-11-25")
    assert first.quotes is None and first.meta.quotes_every_s is None
    assert first.bars["symbol"].tolist() == ["000660", "005930", "005930"]
    at_0902 = int(datetime(2026, 11, 24, 9, 2, tzinfo=SEOUL).timestamp()) * 1000
    assert first.bars["start"].tolist()[0] == at_0902            # UTC offset converted
    assert first.bars["close"].tolist() == [120000, 71100, 71250]
    assert first.bars["volume"].tolist() == [0, 1500, 980]
    assert second.bars["close"].tolist() == [72000]


def test_bad_csv_rows_are_named_by_line_and_column_and_nothing_is_written(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    with pytest.raises(CsvImportError) as info:
        import_csv([path], session_of=_sessions)
    problems = info.value.problems
    where = f"{path}: line"
    assert problems == [
        f"{where} 3, column 'volume': not an integer: 'x'",
        f"{where} 4, column 'symbol': not a 6-character KRX code: '5930'",
        f"{where} 5, column 'start': not a whole minute: '2026-11-24 09:03:30'",
        f"{where} 6, column 'high': 70000 is below open/low/close",
        f"{where} 7, column 'start': 16:00 is outside the session 09:00-15:30",
        f"{where} 8, column 'start': a second bar for 005930 at 2026-11-24 09:00",
        f"{where} 9, column 'start': 2026-11-29 is not a KRX session day",
        f"{where} 10, column 'open': must be > 0, got 0",
    ]
    header = tmp_path / "header.csv"
    header.write_text("symbol,start,open,close\n005930,2026-11-24 09:00,1,1\n")
    assert main(["record", "--csv", str(path), str(header), "--out", str(tmp_path / "d")]) == 2
    out = capsys.readouterr().out
    assert "line 1 (header): missing columns high, low, volume" in out
    assert "line 3, column 'volume'" in out
    assert not (tmp_path / "d").exists()
