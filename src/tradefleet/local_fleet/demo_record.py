"""``tradefleet demo --record DIR``: the demo's market day left behind as a recorded day
(``replay.day_format``), for ``tradefleet backtest`` and ``tradefleet tune``.

The demo's exchange runs the simulator's seeded market; ``replay.sim_source`` records that
same market (seed, universe size, the session's hours) step for step, which is what the
replay parity test checks. So the day is written from the seed after the session, in this
process, instead of polling the running exchange: no broker budget taken from the fleet,
and quotes at every 10 s step."""

from __future__ import annotations

from pathlib import Path

from tradefleet.domain.calendar import TradingSession
from tradefleet.domain.errors import ConfigError


def check_record_target(out: Path, session: TradingSession) -> None:
    """Refuse before anything starts: no pyarrow, or that day already recorded there."""
    try:
        import pyarrow  # noqa: F401 - the day format's files
    except ModuleNotFoundError:
        raise ConfigError("--record: needs pyarrow: pip install 'tradefleet[replay]'") from None
    from tradefleet.replay.day_format import day_dir

    target = day_dir(out, session.day)
    if target.exists():
        raise ConfigError(f"--record: {target} already exists (the demo plays "
                          f"{session.day}; move it or record into another folder)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--record: {out} is not a directory")


def record_demo_day(out: Path, session: TradingSession, *, seed: int, symbols: int) -> Path:
    from tradefleet.replay.day_format import write_day
    from tradefleet.replay.sim_source import record_sim_day

    day = record_sim_day(seed, symbols, session.day, session_open=session.open.time(),
                         session_close=session.close.time())
    return write_day(out, day)
