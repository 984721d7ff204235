"""Shared fixtures: one real PostgreSQL 16 (pgserver binaries) per test session, and a fresh
migrated database per test, cloned from a template so it costs milliseconds."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tradefleet.adapters.postgres.database import Database, database_dsn
from tradefleet.adapters.postgres.migrate import migrate

TEMPLATE = "tf_template"


def _admin_uri(base_uri: str, database: str) -> str:
    # pgserver URIs look like postgresql://postgres:@/postgres?host=/path
    return database_dsn(base_uri, database)


@pytest.fixture(scope="session")
def pg_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of the session's PostgreSQL server (a DSN to the ``postgres`` database)."""
    external = os.environ.get("TRADEFLEET_TEST_DSN")
    if external:
        yield external
        return
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(os.environ["XDG_RUNTIME_DIR"], 0o700)
    # Not under pytest's basetemp: that is 0700 and pruned by concurrent pytest runs, and the
    # server runs as the unprivileged ``pgserver`` user when we are root.
    import shutil
    import tempfile

    import pgserver

    base = Path(tempfile.mkdtemp(prefix="tradefleet-test-pg-"))
    data = base / "data"
    server = pgserver.get_server(data, cleanup_mode="stop")
    uri = server.get_uri()

    async def make_template() -> None:
        conn = await asyncpg.connect(uri)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
            await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await conn.close()
        tconn = await asyncpg.connect(_admin_uri(uri, TEMPLATE))
        try:
            await migrate(tconn)
        finally:
            await tconn.close()

    asyncio.run(make_template())
    yield uri
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


def _new_database(server: str, prefix: str, *, template: bool = True) -> str:
    """Create a database named ``<prefix>_<random>`` on ``server`` (a copy of the migrated
    template unless ``template`` is False) and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{TEMPLATE}"' if template else ""

    async def create() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"{copy}')
        finally:
            await conn.close()

    asyncio.run(create())
    return name


@pytest.fixture
def pg_dsn(pg_server_uri: str) -> Iterator[str]:
    """DSN of a fresh, fully migrated database for this test only."""
    yield _admin_uri(pg_server_uri, _new_database(pg_server_uri, "t"))


@pytest.fixture(scope="module")
def module_pg_dsn(pg_server_uri: str) -> Iterator[str]:
    """As ``pg_dsn``, one for a whole module (an operator that its tests share)."""
    yield _admin_uri(pg_server_uri, _new_database(pg_server_uri, "m"))


@pytest.fixture
def empty_pg_dsn(pg_server_uri: str) -> Iterator[str]:
    """DSN of a fresh database with no schema at all (for migration tests)."""
    yield _admin_uri(pg_server_uri, _new_database(pg_server_uri, "e", template=False))


@pytest.fixture(scope="session")
def fleet_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulated day (seed 11, 30 symbols) recorded once for the session: the replay
    shortcuts' fleet tests each replay it with their shortcut off and on (read only)."""
    from datetime import date

    from tradefleet.replay.day_format import write_day
    from tradefleet.replay.sim_source import record_sim_day

    return write_day(tmp_path_factory.mktemp("days"),
                     record_sim_day(11, 30, date(2026, 11, 24)))


@pytest.fixture
async def db(pg_dsn: str) -> AsyncIterator[Database]:
    database = await Database.connect(pg_dsn, min_size=1, max_size=10)
    try:
        yield database
    finally:
        await database.close()


class LogCapture:
    """JSON log lines of this process, parsed (the real logging pipeline, redaction included)."""

    def __init__(self) -> None:
        import io

        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def records(self) -> list[dict]:
        import json

        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def of(self, event_type: str) -> list[dict]:
        return [r for r in self.records if r.get("event_type") == event_type]


@pytest.fixture
def logs() -> LogCapture:
    from tradefleet.adapters.telemetry.logging import configure_logging

    capture = LogCapture()
    configure_logging(json_output=True, level="DEBUG", stream=capture.stream)
    return capture


@pytest.fixture
def sink(db):
    from tradefleet.adapters.postgres.event_sink import PostgresEventSink

    return PostgresEventSink(db)
