"""Spec §5 on the worker's KIS path: the `tradefleet worker` command's own KIS run
(commands/worker.py ``_run_kis``: settings with ``enc:`` secrets decrypted by key_file, the
fleet KIS broker with its encrypted token store, the worker's own database connection, the
worker loop) in paper mode against the KIS-dialect exchange simulator over HTTP, with its
database reached over TLS with verify-full, and every log line captured.

The secrets are made fresh for this test (the redaction registry is per process: a value
another test registered would be masked anyway). The exchange is told to answer one order
with an error message that echoes the appkey, the appsecret and the account number, as a
careless gateway might: only the worker's own registration of its decrypted secrets can mask
them there."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import datetime

import asyncpg
import pytest
from tests.scenarios.harness import worker_env
from tests.tls_cluster import start_tls_cluster

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import gateway_of, running_exchange
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.commands.console import command_console
from tradefleet.commands.worker import _run_kis
from tradefleet.settings import load_settings
from tradefleet.settings.secrets import encrypt, generate_key_file, read_key

START = datetime(2026, 11, 24, 15, 5, 10, tzinfo=SEOUL)
PRODUCT = "01"


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    cluster = start_tls_cluster(tmp_path_factory.mktemp("tls-worker"))
    yield cluster
    cluster.stop()


async def _local(cluster, database: str = "postgres") -> asyncpg.Connection:
    """The test's own connection: over the cluster's unix socket, not the worker's path."""
    return await asyncpg.connect(host=str(cluster.data), port=cluster.port, user="postgres",
                                 database=database)


@pytest.fixture
async def tls_database(tls_cluster):
    name = f"w_{uuid.uuid4().hex[:10]}"
    conn = await _local(tls_cluster)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


def _secrets() -> dict[str, str]:
    return {"appkey": "PS" + secrets.token_hex(16), "appsecret": secrets.token_urlsafe(24),
            "cano": f"{secrets.randbelow(10 ** 8):08d}"}


def _paper_settings(tmp_path, plain: dict[str, str], *, base_url: str, dsn: str, ca: str,
                    universe: list[str]):  # noqa: ANN001, ANN202
    key_file = tmp_path / f"tf-{uuid.uuid4().hex[:6]}.key"
    generate_key_file(key_file)
    fernet = read_key(key_file)
    env = worker_env(
        "w-kis", TRADEFLEET_MODE="paper", TRADEFLEET_KEY_FILE=str(key_file),
        TRADEFLEET_BROKER__APPKEY=encrypt(fernet, plain["appkey"]),
        TRADEFLEET_BROKER__APPSECRET=encrypt(fernet, plain["appsecret"]),
        TRADEFLEET_ACCOUNT__CANO=encrypt(fernet, plain["cano"]),
        TRADEFLEET_ACCOUNT__PRODUCT_CODE=PRODUCT,
        TRADEFLEET_BROKER__BASE_URL=base_url, TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND="500",
        TRADEFLEET_BROKER__TIMEOUT_SECONDS="2",
        TRADEFLEET_UNIVERSE=",".join(universe), TRADEFLEET_POLL_INTERVAL_SECONDS="30",
        TRADEFLEET_DB__DSN=dsn, TRADEFLEET_DB__SSLMODE="verify-full",
        TRADEFLEET_DB__SSLROOTCERT=ca, TRADEFLEET_LOG_LEVEL="DEBUG",
        TRADEFLEET_EXITS__STOP_LOSS_PCT="0.2", TRADEFLEET_EXITS__TAKE_PROFIT_PCT="0.2",
        # the day starts at 15:05:10: entries until 15:10 (the shortest entry cutoff)
        TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES="5")
    return load_settings(None, env), fernet


async def _watch_ssl(cluster, database: str, seen: list[tuple[int, bool]]) -> None:
    """Sample the worker's backends on its database: (count, all of them over TLS)."""
    conn = await _local(cluster)
    try:
        while True:
            row = await conn.fetchrow(
                """SELECT count(*) AS n, coalesce(bool_and(s.ssl), true) AS ssl
                     FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                    WHERE a.datname = $1 AND a.backend_type = 'client backend'""", database)
            seen.append((row["n"], row["ssl"]))
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_paper_worker_over_tls_logs_no_secret_token_account_or_mode(
        tls_cluster, tls_database, tmp_path, logs):
    plain = _secrets()
    clock = FrozenClock(START)
    market = SimMarket(7, n_symbols=40, clock=clock)
    universe = market.symbols()[:20]
    echo = (f"rejected: request from {plain['appkey']} / {plain['appsecret']} "
            f"for account {plain['cano']}")
    market.faults.set("place_order", "reject", count=1, code="APBK0952", message=echo)
    market.faults.set("get_quotes", "error", count=1)            # an ERROR line with a stack
    xcfg = ExchangeConfig(mode="paper", rate_limit_per_second=1000,
                          credentials={plain["appkey"]: plain["appsecret"]})
    seen: list[tuple[int, bool]] = []
    async with running_exchange(market, xcfg) as (base_url, app):
        dsn = f"postgresql://postgres@localhost:{tls_cluster.port}/{tls_database}"
        settings, fernet = _paper_settings(tmp_path, plain, base_url=base_url, dsn=dsn,
                                           ca=str(tls_cluster.ca_file), universe=universe)
        watcher = asyncio.create_task(_watch_ssl(tls_cluster, tls_database, seen))
        try:
            code = await asyncio.wait_for(_run_kis(settings, command_console(), clock=clock),
                                          240)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        counters = gateway_of(app).counters()
    assert code == 0
    # the KIS path was taken: a token issued to the decrypted appkey, orders at the exchange
    assert counters["tokens_issued"] == {plain["appkey"]: 1}
    conn = await _local(tls_cluster, tls_database)
    try:
        token_row = await conn.fetchrow("SELECT * FROM broker_tokens")
        orders = await conn.fetch("SELECT * FROM orders ORDER BY order_id")
        worker = await conn.fetchrow("SELECT * FROM workers")
    finally:
        await conn.close()
    token = fernet.decrypt(token_row["token_cipher"].removeprefix("enc:").encode()).decode()
    assert worker["mode"] == "paper" and worker["status"] == "EXIT"
    assert orders[0]["status"] == "REJECTED" and orders[0]["reject_code"] == "APBK0952"
    assert any(o["status"] == "FILLED" for o in orders), "the day must trade"
    # the worker's own connections to its database were all over TLS
    assert max(n for n, _ in seen) >= 1 and all(ssl for _, ssl in seen)

    text = logs.text
    records = logs.records
    assert len(records) > 100 and len(records) == len(text.splitlines())
    assert any(r.get("event_type") == "AuthenticatedEvent" for r in records)
    [rejected] = [r for r in records if r.get("event_type") == "OrderRejectedEvent"]
    assert "***" in rejected["reason"] and "rejected: request from" in rejected["reason"]
    assert any(r["level"] == "error" and r.get("stack") for r in records)
    account = plain["cano"]
    for value in (plain["appkey"], plain["appsecret"], account, f"{account}{PRODUCT}",
                  f"{account}-{PRODUCT}", token):
        assert value not in text
    for r in records:                                # spec §5.1: the mode stays out too
        assert r.get("mode") in (None, "***")
        assert "paper" not in json.dumps(r).lower(), r


async def test_verify_full_refuses_a_database_whose_certificate_does_not_match(
        tls_cluster, tls_database, tmp_path, logs):
    """The server's certificate names localhost; reached as 127.0.0.1 it does not match:
    the worker's connection is refused before anything is sent to the broker."""
    plain = _secrets()
    clock = FrozenClock(START)
    market = SimMarket(7, n_symbols=10, clock=clock)
    xcfg = ExchangeConfig(mode="paper", rate_limit_per_second=1000)
    async with running_exchange(market, xcfg) as (base_url, app):
        dsn = f"postgresql://postgres@127.0.0.1:{tls_cluster.port}/{tls_database}"
        settings, _ = _paper_settings(tmp_path, plain, base_url=base_url, dsn=dsn,
                                      ca=str(tls_cluster.ca_file),
                                      universe=market.symbols()[:3])
        with pytest.raises(Exception, match="(?i)certificate|hostname|IP address mismatch"):
            await _run_kis(settings, command_console(), clock=clock)
        counters = gateway_of(app).counters()
    assert counters["token_requests"] == 0           # nothing reached the broker
    conn = await _local(tls_cluster, tls_database)
    try:
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'workers'") == 0   # not migrated
    finally:
        await conn.close()
    for value in plain.values():
        assert value not in logs.text
