"""The demo's database: a fresh ``tradefleet_demo`` database on the embedded server each run,
so a replayed calendar day never mixes with an earlier run's rows."""

from __future__ import annotations

from pathlib import Path

from tradefleet.adapters.postgres.embedded import default_data_dir, start_embedded

DEMO_DB = "tradefleet_demo"


def fresh_demo_database(state_dir: Path | None = None, *,
                        connections: int = 100) -> tuple[str, Path]:
    """``connections``: what the fleet needs at most (each worker's pool, the demo's, the
    exchange's); the embedded server is restarted with that many allowed when it has
    fewer (PostgreSQL's default of 100 is less than 50 workers' pools)."""
    data_dir = (state_dir / "pgdata") if state_dir else default_data_dir()
    admin_dsn = start_embedded(data_dir, database="tradefleet")
    import pgserver

    server = pgserver.get_server(data_dir, cleanup_mode=None)
    _allow_connections(server, data_dir, connections)
    server.psql(f'DROP DATABASE IF EXISTS "{DEMO_DB}" WITH (FORCE);')
    server.psql(f'CREATE DATABASE "{DEMO_DB}";')
    dsn = admin_dsn.replace("/tradefleet?", f"/{DEMO_DB}?")
    return dsn, data_dir.parent / "demo-logs"


def _allow_connections(server, data_dir: Path, connections: int) -> None:  # noqa: ANN001
    shown = server.psql("SHOW max_connections;")
    current = next(int(line.strip()) for line in shown.splitlines() if line.strip().isdigit())
    if current >= connections:
        return
    import pgserver

    server.psql(f"ALTER SYSTEM SET max_connections = {int(connections)};")
    # pg_ctl restart reuses the options the server was started with (postmaster.opts)
    pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir,
                    user=server.system_user, timeout=60)
