"""The demo's database: a fresh ``tradefleet_demo`` database on the embedded server each run,
so a replayed calendar day never mixes with an earlier run's rows."""

from __future__ import annotations

from pathlib import Path

from tradefleet.adapters.postgres.embedded import default_data_dir, start_embedded

DEMO_DB = "tradefleet_demo"


def fresh_demo_database(state_dir: Path | None = None) -> tuple[str, Path]:
    data_dir = (state_dir / "pgdata") if state_dir else default_data_dir()
    admin_dsn = start_embedded(data_dir, database="tradefleet")
    import pgserver

    server = pgserver.get_server(data_dir, cleanup_mode=None)
    server.psql(f'DROP DATABASE IF EXISTS "{DEMO_DB}" WITH (FORCE);')
    server.psql(f'CREATE DATABASE "{DEMO_DB}";')
    dsn = admin_dsn.replace("/tradefleet?", f"/{DEMO_DB}?")
    return dsn, data_dir.parent / "demo-logs"
