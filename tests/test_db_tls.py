"""Spec §5.1: the store talks to PostgreSQL over verified TLS; plain connections are refused."""

from __future__ import annotations

import pytest
from tests.tls_cluster import start_tls_cluster

from tradefleet.adapters.postgres.connect import connect_database


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    cluster = start_tls_cluster(tmp_path_factory.mktemp("tls"))
    yield cluster
    cluster.stop()


async def test_verify_full_connects_over_tls(tls_cluster):
    db = await connect_database(tls_cluster.dsn("localhost"), sslmode="verify-full",
                                sslrootcert=str(tls_cluster.ca_file))
    try:
        assert await db.pool.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await db.close()


async def test_plain_connection_is_refused(tls_cluster):
    with pytest.raises(Exception, match="(?i)no encryption|reject"):
        db = await connect_database(tls_cluster.dsn("localhost"), sslmode="disable")
        await db.close()


async def test_verify_full_refuses_wrong_host_and_wrong_ca(tls_cluster):
    with pytest.raises(Exception, match="(?i)hostname|certificate|match"):
        db = await connect_database(tls_cluster.dsn("127.0.0.1"), sslmode="verify-full",
                                    sslrootcert=str(tls_cluster.ca_file))
        await db.close()
    with pytest.raises(Exception, match="(?i)certificate|verify"):
        db = await connect_database(tls_cluster.dsn("localhost"), sslmode="verify-full",
                                    sslrootcert=str(tls_cluster.other_ca_file))
        await db.close()
    # verify-ca checks the chain but not the name
    db = await connect_database(tls_cluster.dsn("127.0.0.1"), sslmode="verify-ca",
                                sslrootcert=str(tls_cluster.ca_file))
    await db.close()


async def test_bad_tls_settings_are_named_before_connecting(tls_cluster, tmp_path):
    from tradefleet.domain.errors import ConfigError

    with pytest.raises(ConfigError, match="db.sslmode"):
        await connect_database(tls_cluster.dsn(), sslmode="verify_full")
    with pytest.raises(ConfigError, match="db.sslrootcert"):
        await connect_database(tls_cluster.dsn(), sslmode="verify-full",
                               sslrootcert=str(tmp_path / "missing.crt"))


async def test_require_encrypts_without_checking_the_certificate(tls_cluster):
    db = await connect_database(tls_cluster.dsn("127.0.0.1"), sslmode="require")
    try:
        assert await db.pool.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await db.close()
