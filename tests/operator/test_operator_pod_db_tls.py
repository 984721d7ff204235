"""Worker pods verify the database server (sslmode verify-full) against a CA certificate the
operator mounts from TRADEFLEET_OPERATOR_POD_DB_CA_SECRET: the chart's default for an external
database. A malformed reference stops start-up naming the variable; a missing Secret is a
preflight problem, so no pod is started that could not connect."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.operator.factories import CONFIG, SPEC

from tradefleet.domain.errors import ConfigError
from tradefleet.operator.config import SecretKeyRef, load_operator_config
from tradefleet.operator.pods import DB_CA_DIR, build_pod
from tradefleet.operator.preflight import preflight
from tradefleet.operator.resources import parse_worker_spec

BASE = {"TRADEFLEET_OPERATOR_NAMESPACES": "trading",
        "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:test",
        "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
        "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "verify-full"}
TLS = replace(CONFIG, pod_db_sslmode="verify-full",
              pod_db_ca_secret=SecretKeyRef("db-ca", "root.pem"))


def _pod(config):  # noqa: ANN001, ANN202
    return build_pod(name="w-1", namespace="trading", uid="uid-1",
                     spec=parse_worker_spec(SPEC), config=config, epoch_before=0, serial=0)


def test_the_ca_reference_is_read_and_a_bad_one_is_named():
    config = load_operator_config({**BASE,
                                   "TRADEFLEET_OPERATOR_POD_DB_CA_SECRET": "db-ca/root.pem"})
    assert config.pod_db_ca_secret == SecretKeyRef("db-ca", "root.pem")
    assert load_operator_config(BASE).pod_db_ca_secret is None
    with pytest.raises(ConfigError, match="TRADEFLEET_OPERATOR_POD_DB_CA_SECRET: expected"):
        load_operator_config({**BASE, "TRADEFLEET_OPERATOR_POD_DB_CA_SECRET": "no-key"})


def test_the_worker_pod_mounts_the_ca_and_points_sslrootcert_at_it():
    spec = _pod(TLS)["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TRADEFLEET_DB__SSLMODE"] == "verify-full"
    assert env["TRADEFLEET_DB__SSLROOTCERT"] == f"{DB_CA_DIR}/ca.crt"
    (volume,) = [v for v in spec["volumes"] if v["name"] == "db-ca"]
    assert volume["secret"] == {"secretName": "db-ca",
                                "items": [{"key": "root.pem", "path": "ca.crt"}]}
    assert {"name": "db-ca", "mountPath": DB_CA_DIR, "readOnly": True} \
        in container["volumeMounts"]
    plain = _pod(CONFIG)["spec"]
    assert "db-ca" not in {v["name"] for v in plain["volumes"]}
    assert "TRADEFLEET_DB__SSLROOTCERT" not in {e["name"] for e in plain["containers"][0]["env"]}


async def test_a_missing_ca_secret_is_a_preflight_problem_naming_the_setting():
    secrets = {("trading", "tradefleet-db"): {"dsn": "postgresql://db/x"},
               ("trading", "db-ca"): {"root.pem": "-----BEGIN CERTIFICATE-----"}}

    async def read(namespace: str, name: str):  # noqa: ANN202
        return secrets.get((namespace, name))

    spec = parse_worker_spec(SPEC)
    assert await preflight(spec, "trading", read, TLS) == []
    del secrets[("trading", "db-ca")]
    (problem,) = await preflight(spec, "trading", read, TLS)
    assert problem.reason == "SecretNotFound"
    assert problem.message.startswith("operator setting TRADEFLEET_OPERATOR_POD_DB_CA_SECRET")
