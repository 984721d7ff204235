"""Settings that money depends on: a paper or real worker reaches a network database only over
verified TLS (or by an explicit, logged override), and the DSN's password may be an ``enc:``
secret that is decrypted, used against a real server and never shown."""

from __future__ import annotations

import logging
import subprocess
from urllib.parse import quote

import asyncpg
import pytest
from tests.test_secrets import _encrypted_env, encrypt
from tests.test_settings import env  # noqa: F401 - fixture
from tests.tls_cluster import _bin, start_tls_cluster

from tradefleet.adapters.postgres.connect import connect_database
from tradefleet.cli import main
from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_database_settings, load_settings
from tradefleet.settings.dsn import parse_dsn

NETWORK = "postgresql://app@db.internal:5432/trading"
PASSWORD = "p@ss:w/rd%Zq-9!"          # every character a URI would need escaped


@pytest.fixture
def paper(env, tmp_path, monkeypatch, capsys):  # noqa: F811
    """Paper mode with encrypted broker secrets; returns (set_env, key file)."""
    values = _encrypted_env(tmp_path, capsys, monkeypatch)

    def set_env(**more: str) -> None:
        env(TRADEFLEET_MODE="paper", **values, **more)
    return set_env, values["TRADEFLEET_KEY_FILE"]


@pytest.mark.parametrize(("dsn", "sslmode", "shown"), [
    (NETWORK, None, "sslmode=prefer"),
    (NETWORK, "require", "sslmode=require"),
    (NETWORK + "?sslmode=disable", None, "sslmode=disable"),
    ("postgresql://app@localhost,db2.internal/trading", "prefer", "sslmode=prefer"),
])
def test_paper_refuses_a_network_database_without_verified_tls(paper, dsn, sslmode, shown):
    set_env, _ = paper
    set_env(TRADEFLEET_DB__DSN=dsn, **({"TRADEFLEET_DB__SSLMODE": sslmode} if sslmode else {}))
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "db.sslmode (TRADEFLEET_DB__SSLMODE): paper mode reaches the database" in text
    assert shown in text and "db.allow_insecure (TRADEFLEET_DB__ALLOW_INSECURE)" in text


def test_real_mode_too_and_reported_with_other_bad_fields(env, tmp_path, monkeypatch,  # noqa: F811
                                                          capsys):
    env(TRADEFLEET_MODE="real", TRADEFLEET_CONFIRM_REAL_TRADING="true",
        TRADEFLEET_WORKER_ID="Not Valid", TRADEFLEET_DB__DSN=NETWORK,
        TRADEFLEET_DB__SSLMODE="require", **_encrypted_env(tmp_path, capsys, monkeypatch))
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "worker_id (TRADEFLEET_WORKER_ID)" in text
    assert "db.sslmode (TRADEFLEET_DB__SSLMODE): real mode reaches the database" in text


def test_paper_accepts_verify_full_and_verify_ca(paper, tmp_path):
    set_env, _ = paper
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    for mode in ("verify-full", "verify-ca"):
        set_env(TRADEFLEET_DB__DSN=NETWORK, TRADEFLEET_DB__SSLMODE=mode,
                TRADEFLEET_DB__SSLROOTCERT=str(ca))
        assert load_settings().db.sslmode == mode
    set_env(TRADEFLEET_DB__DSN=NETWORK + "?sslmode=verify-full", TRADEFLEET_DB__SSLMODE=None,
            TRADEFLEET_DB__SSLROOTCERT=None)
    assert load_settings().db.dsn.get_secret_value().endswith("?sslmode=verify-full")


@pytest.mark.parametrize("dsn", [
    "postgresql://postgres:@/postgres?host=/tmp/tf-socket",        # pgserver's form
    "postgresql://app@%2Fvar%2Frun%2Fpostgresql/trading",          # socket in the netloc
    "postgresql://app@localhost:5432/trading",
    "postgresql://app@127.0.0.1/trading",
    "postgresql://app@[::1]:5432/trading",
])
def test_paper_needs_no_tls_for_a_local_database(paper, dsn):
    set_env, _ = paper
    set_env(TRADEFLEET_DB__DSN=dsn)
    assert load_settings().db.dsn.get_secret_value() == dsn


def test_sim_mode_keeps_its_freedom(env):  # noqa: F811
    env(TRADEFLEET_DB__DSN="postgresql://u:pw@db.internal/x", TRADEFLEET_DB__SSLMODE="require")
    assert load_settings().db.sslmode == "require"


def test_paper_refuses_a_plaintext_password_without_showing_it(paper):
    set_env, _ = paper
    set_env(TRADEFLEET_DB__DSN="postgresql://app:hunter2-plain@localhost/trading")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "db.dsn (TRADEFLEET_DB__DSN): a plaintext password is refused" in str(info.value)
    assert "hunter2-plain" not in str(info.value)


async def test_override_accepted_and_logged_as_a_warning(paper, monkeypatch, capsys, logs):
    set_env, key = paper
    secret = encrypt(key, PASSWORD, monkeypatch, capsys)
    set_env(TRADEFLEET_DB__DSN=f"postgresql://app:{secret}@db.invalid:5432/trading",
            TRADEFLEET_DB__SSLMODE="require", TRADEFLEET_DB__ALLOW_INSECURE="true")
    settings = load_settings()
    assert settings.db.allow_insecure is True
    with pytest.raises(ConfigError, match="db.dsn: the database is not reachable"):
        # nobody answers at db.invalid; the warning came first
        await connect_database(settings.db.dsn.get_secret_value(),
                               sslmode=settings.db.sslmode, wait_seconds=0)
    [warning] = [r for r in logs.records if r.get("level") == "warning"
                 and r["event"] != "database not reachable yet; retrying"]
    assert warning["event"] == "database reached over the network without certificate " \
                               "verification"
    assert warning["sslmode"] == "require" and "db.invalid" not in logs.text
    assert PASSWORD not in logs.text


def test_whole_dsn_encrypted_and_errors_name_the_field(paper, monkeypatch, capsys):
    set_env, key = paper
    plain = f"postgresql://app:{quote(PASSWORD, safe='')}@localhost/trading"
    set_env(TRADEFLEET_DB__DSN=encrypt(key, plain, monkeypatch, capsys))
    s = load_settings()
    assert s.db.dsn.get_secret_value() == plain and quote(PASSWORD, safe="") not in repr(s)
    set_env(TRADEFLEET_DB__DSN="postgresql://app:enc:not-a-token@localhost/trading")
    with pytest.raises(ConfigError, match=r"db.dsn \(TRADEFLEET_DB__DSN\): cannot be decrypted"):
        load_settings()
    set_env(TRADEFLEET_DB__DSN="mysql://app@localhost/trading")
    with pytest.raises(ConfigError, match=r"db.dsn \(TRADEFLEET_DB__DSN\): must be a postgres"):
        load_settings()


def test_dsn_reading():
    d = parse_dsn("postgresql://u:enc%3Aabc@h1:5432,[::1]:5433/db?sslmode=Verify-Full")
    assert d.hosts == ("h1", "::1") and d.sslmode == "verify-full" and d.password == "enc:abc"
    assert d.network_hosts(environ={}) == ["h1"]
    assert parse_dsn("postgresql:///db").network_hosts(environ={"PGHOST": "db.x"}) == ["db.x"]
    assert parse_dsn("postgresql:///db").network_hosts(environ={}) == []
    assert parse_dsn("postgres://u@h/db").password is None


# --- an enc: password against a real server that checks it ------------------------------

@pytest.fixture(scope="module")
def scram_cluster(tmp_path_factory):
    """A TLS cluster whose TCP connections authenticate by password (scram-sha-256), with a
    role ``app`` whose password is PASSWORD."""
    cluster = start_tls_cluster(tmp_path_factory.mktemp("scram"))
    hba = cluster.data / "pg_hba.conf"
    hba.write_text("local all all trust\nhostnossl all all 0.0.0.0/0 reject\n"
                   "hostssl all all 127.0.0.1/32 scram-sha-256\n")
    if cluster.user:
        import shutil
        shutil.chown(hba, cluster.user, cluster.user)
    subprocess.run([str(_bin("pg_ctl")), "-D", str(cluster.data), "reload"], check=True,
                   user=cluster.user, capture_output=True, timeout=60)

    async def make_role() -> None:
        conn = await asyncpg.connect(host=str(cluster.data), port=cluster.port,
                                     user="postgres", database="postgres")
        await conn.execute(f"CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'")
        await conn.close()

    import asyncio
    asyncio.run(make_role())
    yield cluster
    cluster.stop()


async def test_enc_password_decrypted_connects_and_never_shows(
        scram_cluster, paper, monkeypatch, capsys, logs):
    set_env, key = paper
    dsn = f"postgresql://app:{encrypt(key, PASSWORD, monkeypatch, capsys)}@localhost:" \
          f"{scram_cluster.port}/postgres"
    set_env(TRADEFLEET_DB__DSN=dsn, TRADEFLEET_DB__SSLMODE="verify-full",
            TRADEFLEET_DB__SSLROOTCERT=str(scram_cluster.ca_file))
    s = load_settings()
    db = await connect_database(s.db.dsn.get_secret_value(), sslmode=s.db.sslmode,
                                sslrootcert=str(s.db.sslrootcert))
    try:
        assert await db.pool.fetchval("SELECT current_user") == "app"
        assert await db.pool.fetchval(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await db.close()
    from tradefleet.adapters.telemetry.logging import get_logger
    get_logger().info("connected", dsn=s.db.dsn.get_secret_value(), note=f"pw {PASSWORD}")
    logging.getLogger("asyncpg").warning("driver said %s", PASSWORD)
    assert "connected" in logs.text and "driver said" in logs.text
    shown = [logs.text, repr(s), str(s.model_dump()), str(s.safe_summary())]
    assert not any(PASSWORD in text for text in shown)


async def test_wrong_enc_password_is_refused_by_the_server(scram_cluster, paper, monkeypatch,
                                                           capsys):
    """The server really checks the password: the decrypted one above was the right one."""
    set_env, key = paper
    set_env(TRADEFLEET_DB__DSN=f"postgresql://app:{encrypt(key, 'wrong-one', monkeypatch, capsys)}"
                               f"@localhost:{scram_cluster.port}/postgres",
            TRADEFLEET_DB__SSLMODE="verify-full",
            TRADEFLEET_DB__SSLROOTCERT=str(scram_cluster.ca_file))
    s = load_settings()
    with pytest.raises(ConfigError, match="db.dsn: .*InvalidPasswordError") as info:
        await connect_database(s.db.dsn.get_secret_value(), sslmode=s.db.sslmode,
                               sslrootcert=str(s.db.sslrootcert))
    assert "wrong-one" not in str(info.value)


def test_db_command_decrypts_the_password_too(scram_cluster, paper, monkeypatch, capsys):
    set_env, key = paper
    set_env(TRADEFLEET_DB__DSN=f"postgresql://app:{encrypt(key, PASSWORD, monkeypatch, capsys)}"
                               f"@localhost:{scram_cluster.port}/postgres",
            TRADEFLEET_DB__SSLMODE="verify-full",
            TRADEFLEET_DB__SSLROOTCERT=str(scram_cluster.ca_file))
    assert load_database_settings().dsn.get_secret_value().count("enc:") == 0
    assert main(["db", "status"]) == 0
    captured = capsys.readouterr()
    assert "pending" in captured.out and PASSWORD not in captured.out + captured.err


def test_db_command_applies_the_tls_rule(paper, capsys):
    set_env, _ = paper
    set_env(TRADEFLEET_DB__DSN=NETWORK, TRADEFLEET_DB__SSLMODE="require")
    assert main(["db", "status"]) == 2
    assert "db.sslmode (TRADEFLEET_DB__SSLMODE)" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="db.sslmode"):
        load_database_settings(None, environ={"TRADEFLEET_MODE": "real",
                                              "TRADEFLEET_DB__DSN": NETWORK})
