"""Embedded PostgreSQL 16 from the ``pgserver`` wheel, for local runs and tests.

Used only when no DSN is configured. The data directory lives under the user's state dir and
is reused across runs. As root, pgserver runs the server as a system user it creates, because
PostgreSQL refuses to run as root. pgserver is the ``embedded`` extra (in ``dev`` too): the
container image leaves it out, so a pod without a DSN stops with a clear error instead.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tradefleet.domain.errors import ConfigError

MISSING = ("db.dsn: not set, and the embedded PostgreSQL (pgserver) is not installed: set "
           "TRADEFLEET_DB__DSN, or pip install 'tradefleet[embedded]'")


def default_data_dir() -> Path:
    override = os.environ.get("TRADEFLEET_STATE_DIR")
    if override:
        return Path(override) / "pgdata"
    import platformdirs  # only without TRADEFLEET_STATE_DIR (a pod sets it)

    return Path(platformdirs.user_state_dir("tradefleet")) / "pgdata"


def start_embedded(data_dir: Path | None = None, *, database: str = "tradefleet") -> str:
    """Start (or reuse) the embedded server and return a DSN for ``database`` on it."""
    runtime = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(os.environ["XDG_RUNTIME_DIR"], 0o700)
    try:
        import pgserver  # imported late: it touches the runtime dir at import
    except ImportError as exc:
        raise ConfigError(MISSING) from exc

    data_dir = data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server on ``data_dir`` if one runs there (fast shutdown)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(data_dir, cleanup_mode=None)
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary folder whose embedded server (on ``<folder>/pgdata``) is stopped on exit.

    Benchmarks start a throwaway server in a temporary folder: without the stop, the folder is
    removed under a server that keeps running after the benchmark ends."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        try:
            yield folder
        finally:
            stop_embedded(folder / "pgdata")
