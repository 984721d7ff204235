"""``tradefleet backtest --param-version`` (issue 21): a stored version, approved or not, is
backtested with exactly its strategy and params, read from the fleet's database (found as
``tradefleet params`` finds it), which the backtest leaves as it was; its label is in the
summary and the report. Refused, naming the flag, before any backtest database exists: an
unknown version, ``latest-approved`` with none approved, a version of another strategy than
``--strategy``, ``--params`` beside it, a fleet database never migrated."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import yaml
from tests.backtest_rig import PARAMS, SETTINGS, backtest_databases_of

from tradefleet.adapters.postgres.param_version_store import approve_version, insert_version
from tradefleet.cli import main
from tradefleet.replay.day_format import write_day
from tradefleet.replay.sim_source import record_sim_day

DAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("days")
    write_day(folder, record_sim_day(7, 40, DAY))
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("settings")
    (folder / "worker.yaml").write_text(yaml.safe_dump(SETTINGS))
    (folder / "params.json").write_text(json.dumps(PARAMS))
    return {p.stem: p for p in folder.iterdir()}


def _argv(data: Path, files: dict[str, Path], server: str, tmp: Path, *extra: str) -> list[str]:
    return ["backtest", "--data", str(data), "--from", str(DAY), "--start", "15:00",
            "--config", str(files["worker"]), "--pg-dsn", server,
            "--report", str(tmp / "report.html"), *extra]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse: the usage line and the flag
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


async def _fleet_rows(dsn: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        return {"versions": [tuple(r) for r in await conn.fetch(
                    "SELECT version_id, strategy, params::text, approved_at FROM "
                    "param_versions ORDER BY version_id")],
                "pins": await conn.fetchval("SELECT count(*) FROM session_param_versions"),
                "workers": await conn.fetchval("SELECT count(*) FROM workers"),
                "positions": await conn.fetchval("SELECT count(*) FROM positions")}
    finally:
        await conn.close()


def _table(summary: str) -> list[str]:
    """The per-day and total rows: the trades, whatever the version is called."""
    return [line for line in summary.splitlines() if re.match(r"^(\d{4}-\d\d-\d\d|total)\s",
                                                               line)]


async def test_an_unapproved_version_is_backtested_as_its_params_and_the_fleet_db_is_untouched(
        db, pg_dsn, pg_server_uri, data, files, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_dsn)      # where tradefleet params reads
    version = await insert_version(db.pool, strategy="ma_breakout", params=PARAMS,
                                   evidence={"fit_score": 0.01})
    before = await _fleet_rows(pg_dsn)

    def backtest(*extra: str) -> tuple[int, str, str]:
        return _run(capsys, _argv(data, files, pg_server_uri, tmp_path, *extra))

    by_version = await asyncio.to_thread(backtest, "--param-version",
                                         str(version.version_id))
    report = (tmp_path / "report.html").read_text()
    by_file = await asyncio.to_thread(backtest, "--params", str(files["params"]))
    assert by_version[0] == 0, by_version[2]
    assert by_file[0] == 0, by_file[2]
    label = f"pv-{version.version_id}"
    print("\n" + by_version[1])
    rows = _table(by_version[1])
    assert rows == _table(by_file[1])                   # exactly the version's params
    assert int(rows[-1].split()[1]) > 0                 # and they traded
    assert f"parameter version {label}" in by_version[1].splitlines()[0]
    assert f"traded under: ma_breakout params {label}" in by_version[1]
    assert label not in by_file[1]
    assert label in report
    assert await _fleet_rows(pg_dsn) == before          # not pinned, approved nor traded
    assert before["pins"] == before["workers"] == 0


@pytest.mark.parametrize(("extra", "says"), [
    pytest.param(["--param-version", "999"], "no parameter version 999", id="unknown"),
    pytest.param(["--param-version", "latest-approved"],
                 "no approved parameter version of ma_breakout", id="none-approved"),
    pytest.param(["--param-version", "{surge}", "--strategy", "ma_breakout"],
                 "is for volume_surge", id="other-strategy"),
    pytest.param(["--param-version", "{mine}", "--params", "{params}"], "not with --params",
                 id="beside-params"),
    pytest.param(["--param-version", "0"], "--param-version", id="not-an-id"),
])
async def test_a_bad_param_version_is_refused_by_name_and_nothing_is_written(
        db, pg_dsn, pg_server_uri, data, files, tmp_path, monkeypatch, capsys,
        extra, says) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_dsn)
    mine = await insert_version(db.pool, strategy="ma_breakout", params=PARAMS, evidence={})
    surge = await insert_version(db.pool, strategy="volume_surge", params={}, evidence={})
    await approve_version(db.pool, surge.version_id, by="kim", reason=None)
    names = {"{mine}": str(mine.version_id), "{surge}": str(surge.version_id),
             "{params}": str(files["params"])}
    extra = [names.get(x, x) for x in extra]
    before = await _fleet_rows(pg_dsn)
    code, out, err = await asyncio.to_thread(
        _run, capsys, _argv(data, files, pg_server_uri, tmp_path, *extra))
    assert code == 2
    assert "--param-version" in err and says in err, err
    assert out == ""
    assert not (tmp_path / "report.html").exists()
    assert await backtest_databases_of(pg_server_uri) == []
    assert await _fleet_rows(pg_dsn) == before


def test_a_fleet_database_that_refuses_is_named_by_the_flag(
        pg_server_uri, data, files, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_server_uri.replace("/postgres?",
                                                                  "/no_such_database?"))
    code, out, err = _run(capsys, _argv(data, files, pg_server_uri, tmp_path,
                                        "--param-version", "1"))
    assert code == 2 and out == ""
    assert "--param-version 1: the fleet's database: db.dsn" in err, err


def test_a_fleet_database_never_migrated_is_refused_and_left_empty(
        empty_pg_dsn, pg_server_uri, data, files, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", empty_pg_dsn)
    code, _, err = _run(capsys, _argv(data, files, pg_server_uri, tmp_path,
                                      "--param-version", "1"))
    assert code == 2
    assert "--param-version 1" in err and "not migrated" in err, err

    async def tables() -> int:
        conn = await asyncpg.connect(empty_pg_dsn)
        try:
            return await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                       "'public'")
        finally:
            await conn.close()
    assert asyncio.run(tables()) == 0                   # the backtest migrated nothing


async def test_a_config_naming_a_version_backtests_that_version(
        db, pg_dsn, pg_server_uri, data, files, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """The live fleet's own config (``strategy.param_version``) without the flag: the
    version it names is read from the fleet's database, as the flag would read it; one
    that is not there is refused under the config's field."""
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_dsn)
    version = await insert_version(db.pool, strategy="ma_breakout", params=PARAMS,
                                   evidence={})
    for wanted in (version.version_id, 999):
        config = tmp_path / f"live-{wanted}.yaml"
        config.write_text(yaml.safe_dump({**SETTINGS, "strategy": {
            "name": "ma_breakout", "param_version": str(wanted)}}))
        argv = _argv(data, {**files, "worker": config}, pg_server_uri, tmp_path)
        code, out, err = await asyncio.to_thread(_run, capsys, argv)
        if wanted == 999:
            assert code == 2 and out == ""
            assert f"strategy.param_version (--config {config}) 999" in err, err
        else:
            assert code == 0, err
            assert f"parameter version pv-{wanted}" in out.splitlines()[0]
    assert await backtest_databases_of(pg_server_uri) == []
