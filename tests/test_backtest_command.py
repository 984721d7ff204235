"""``tradefleet backtest`` (issue 21, item 2): the production workers over recorded days.
Two simulator days recorded, a range around them (a weekday without a recording, a
weekend), two workers on one clock from 14:50 to the close; the command run twice prints the
same summary byte for byte, and a bad flag is refused by name before any database exists."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import yaml
from tests.backtest_rig import PARAMS, SETTINGS, backtest_databases

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.cli import main
from tradefleet.replay.day_format import write_day
from tradefleet.replay.sim_source import record_sim_day

SYMBOLS = 40
DAYS = {date(2026, 11, 24): 7, date(2026, 11, 25): 8}      # day: simulator seed
RANGE = ["--from", "2026-11-21", "--to", "2026-11-25"]      # Sat, Sun, Mon (none), Tue, Wed


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("days")
    for day, seed in DAYS.items():
        write_day(folder, record_sim_day(seed, SYMBOLS, day))
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("settings")
    (folder / "worker.yaml").write_text(yaml.safe_dump(SETTINGS))
    (folder / "params.json").write_text(json.dumps(PARAMS))
    (folder / "bad-params.json").write_text(json.dumps({**PARAMS, "short": -1}))
    (folder / "list.json").write_text("[1, 2]")
    return {p.stem: p for p in folder.iterdir()}


def _backtest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["backtest", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_backtest_prints_the_same_summary_twice_and_totals_its_days(
        pg_server_uri, data, files, capsys) -> None:  # noqa: ANN001
    argv = ["--data", str(data), *RANGE, "--workers", "2", "--config", str(files["worker"]),
            "--params", str(files["params"]), "--start", "14:50", "--pg-dsn", pg_server_uri]
    first = _backtest(capsys, *argv)
    second = _backtest(capsys, *argv)
    assert first[0] == 0, first[2]
    summary = first[1]
    print("\n" + summary + first[2])
    assert second[1] == summary                                     # byte for byte
    rows = {line.split()[0]: line.split() for line in summary.splitlines()
            if re.match(r"^(\d{4}-\d\d-\d\d|total)\s", line)}
    assert sorted(rows) == ["2026-11-24", "2026-11-25", "total"]    # the recorded days only
    assert "2026-11-23 (no recording)" in summary                   # a weekday without data
    assert "2026-11-22" not in summary                              # weekends left out

    def number(text: str) -> int:
        return int(text.replace(",", ""))

    days = [rows["2026-11-24"], rows["2026-11-25"]]
    total = rows["total"]
    assert number(total[1]) == sum(number(d[1]) for d in days) > 0  # trades
    assert number(total[4]) == sum(number(d[4]) for d in days)       # PnL after costs
    assert number(total[6]) == min(number(d[6]) for d in days)       # max loss
    assert all(d[7] == "0" for d in [*days, total])                  # flat at every close
    assert "[2/2]" in first[2]                                       # progress, per day
    assert backtest_databases(pg_server_uri) == []                      # nothing left behind


def test_workers_trade_on_one_clock_without_sharing_a_symbol(
        pg_server_uri, data, files, capsys) -> None:  # noqa: ANN001
    """Two workers find more than one does and never hold one symbol at once (the fleet's
    locks, on the database of the day)."""
    base = ["--data", str(data), "--from", "2026-11-24", "--config", str(files["worker"]),
            "--params", str(files["params"]), "--start", "14:50", "--pg-dsn", pg_server_uri,
            "--keep-databases"]
    _, one, _ = _backtest(capsys, *base, "--workers", "1")
    _, two, _ = _backtest(capsys, *base, "--workers", "2")
    trades = [int(next(line for line in s.splitlines() if line.startswith("total")).split()[1])
              for s in (one, two)]
    names = [n for n in backtest_databases(pg_server_uri) if n.endswith("_20261124")]
    assert len(names) == 2                              # --keep-databases kept each day's
    try:
        seen = sorted(asyncio.run(_overlaps(database_dsn(pg_server_uri, n))) for n in names)
    finally:
        for name in names + backtest_databases(pg_server_uri):
            asyncio.run(_drop(pg_server_uri, name))
    assert trades[1] > trades[0] > 0, (one, two)
    assert seen == [(1, 0), (2, 0)]         # (workers, positions held twice): one and two


def test_days_run_side_by_side_give_the_summary_and_report_of_one_process(
        pg_server_uri, data, files, tmp_path, capsys) -> None:  # noqa: ANN001
    """``--jobs``: the two days in two processes print the same summary, and write the same
    report, byte for byte, as one process running them one after the other; progress is
    heard once per day."""
    base = ["--data", str(data), *RANGE, "--workers", "2", "--config", str(files["worker"]),
            "--params", str(files["params"]), "--start", "14:50", "--pg-dsn", pg_server_uri]
    runs = [_backtest(capsys, *base, "--jobs", str(jobs), "--report",
                      str(tmp_path / f"report-{jobs}.html")) for jobs in (1, 2)]
    assert [code for code, _, _ in runs] == [0, 0], runs
    print("\n" + runs[1][1] + runs[1][2])
    assert runs[1][1] == runs[0][1]                                 # the summary
    assert (tmp_path / "report-2.html").read_bytes() == \
        (tmp_path / "report-1.html").read_bytes()                   # the report
    assert "2 day(s) at a time" in runs[1][2]
    assert "1 day(s) at a time" in runs[0][2]
    done = re.findall(r"\[(\d)/2\] (\S+):", runs[1][2])
    assert [k for k, _ in done] == ["1", "2"]                         # counted as they end
    assert sorted(d for _, d in done) == ["2026-11-24", "2026-11-25"]   # each day, once
    assert backtest_databases(pg_server_uri) == []                      # all dropped


async def _overlaps(dsn: str) -> tuple[int, int]:
    """The workers that traded, and pairs of positions of two workers on one symbol held at
    the same time."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(DISTINCT worker_id) FROM positions"), \
            await conn.fetchval(
            "SELECT count(*) FROM positions a JOIN positions b ON a.symbol = b.symbol "
            "AND a.worker_id < b.worker_id AND a.entry_at < b.exit_at "
            "AND b.entry_at < a.exit_at")
    finally:
        await conn.close()


async def _drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.mark.parametrize(("flags", "named"), [
    (["--workers", "0"], "--workers"),
    (["--workers", "51"], "--workers"),
    (["--jobs", "0"], "--jobs"),
    (["--jobs", "65"], "--jobs"),
    (["--jobs", "two"], "--jobs"),
    (["--from", "24-11-2026"], "--from"),
    (["--to", "2026-11-20"], "--to"),
    (["--start", "9h"], "--start"),
    (["--strategy", "nope"], "--strategy"),
    (["--params", "{bad-params}"], "--params"),
    (["--params", "{list}"], "--params"),
    (["--params", "/nonexistent/params.json"], "--params"),
    (["--config", "/nonexistent/worker.yaml"], "--config"),
    (["--data", "/nonexistent/days"], "--data"),
])
def test_a_bad_flag_is_refused_by_name_and_nothing_is_created(
        pg_server_uri, data, files, capsys, flags, named) -> None:  # noqa: ANN001
    flags = [files[f[1:-1]].as_posix() if f.startswith("{") else f for f in flags]
    argv = {"--data": str(data), "--from": "2026-11-24", "--config": str(files["worker"]),
            "--pg-dsn": pg_server_uri}
    for k in range(0, len(flags), 2):
        argv[flags[k]] = flags[k + 1]
    with_exit = None
    try:
        code, out, err = _backtest(capsys, *[x for kv in argv.items() for x in kv])
    except SystemExit as exc:                  # argparse: the usage line and the flag
        with_exit = exc.code
        out, err = capsys.readouterr()
        code = with_exit
    assert code == 2
    assert named in err, err
    assert out == ""
    assert backtest_databases(pg_server_uri) == []


def test_skipping_still_polls_halves_them_and_stays_deterministic_and_flat(
        pg_server_uri, data, files, capsys) -> None:  # noqa: ANN001
    """The speed lever: a 5 s poll over a 10 s market step polls only when the market moved.
    Its trades may differ from the unskipped run's (a worker follows its own order a step
    later); the test prints both and holds what always holds."""
    base = ["--data", str(data), "--from", "2026-11-24", "--config", str(files["worker"]),
            "--params", str(files["params"]), "--start", "14:50", "--pg-dsn", pg_server_uri]
    runs = [_backtest(capsys, *base, *extra)
            for extra in ([], ["--skip-still-polls"], ["--skip-still-polls"])]
    assert all(code == 0 for code, _, _ in runs), runs
    polls = [int(re.search(r"([\d,]+) worker polls", err).group(1).replace(",", ""))
             for _, _, err in runs]
    print("\n" + "\n".join(f"{p} polls\n{out}{err.splitlines()[-1]}"
                           for p, (_, out, err) in zip(polls, runs, strict=True)))
    assert polls[1] == polls[2] <= polls[0] // 2 + 1
    assert runs[1][1] == runs[2][1]                                  # deterministic
    total = next(line for line in runs[1][1].splitlines() if line.startswith("total")).split()
    assert int(total[1]) > 0 and total[7] == "0"                     # trades, flat at close


def test_a_lease_shorter_than_the_wall_clock_day_changes_nothing(
        pg_server_uri, data, files, tmp_path, capsys) -> None:  # noqa: ANN001
    """A worker's lease and its locks' ages run on the wall clock; a replayed day that takes
    longer than the lock TTL must not lose its lease (orders refused, positions left open,
    trades depending on the machine's speed). A 3 s TTL, far shorter than the day's wall
    time, gives the table of the 30 s default."""
    short = tmp_path / "short-ttl.yaml"
    short.write_text(yaml.safe_dump({**SETTINGS, "locks": {"ttl_seconds": 3,
                                                           "heartbeat_interval_seconds": 1}}))
    # three workers from the open: long enough in wall time for the lease to lapse well before
    # the forced liquidation's sells (one worker's day from 12:30 took 2.3 s once the
    # replay got faster, under the TTL: the mutant of the lease's beat lived)
    base = ["--data", str(data), "--from", "2026-11-24", "--params", str(files["params"]),
            "--start", "09:00", "--workers", "3", "--pg-dsn", pg_server_uri]
    runs = [_backtest(capsys, *base, "--config", str(config))
            for config in (files["worker"], short)]
    assert all(code == 0 for code, _, _ in runs), runs
    wall = float(re.search(r"in ([\d.]+) s wall", runs[1][2]).group(1))
    print(f"\nthe short lease's day: {wall} s wall")
    assert wall > 3 + 2, "the day ran within the lease's TTL (+ margin): nothing tested"
    assert runs[1][1] == runs[0][1]
