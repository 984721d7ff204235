"""Can the operator run this TradingWorker? What the schema cannot know: that the referenced
Secrets exist and hold the keys the worker reads, that the key decrypts every ``enc:`` value
(paper and real refuse plaintext), and that the strategy exists and accepts its parameters.
Each problem names the field. Decrypted values never leave this module: they are checked
and dropped, never logged, returned or stored."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cryptography.fernet import Fernet

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import StrategyParamsError
from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.plan import Problem
from tradefleet.operator.resources import Credentials, TradingWorkerSpec
from tradefleet.settings import secrets as sec
from tradefleet.strategy_plugins import load_strategy

SECRET_KEYS = ("appkey", "appsecret", "cano")
SecretReader = Callable[[str, str], Awaitable[Mapping[str, str] | None]]


def check_strategy(spec: TradingWorkerSpec) -> list[Problem]:
    s = spec.strategy
    try:
        strategy = load_strategy(s.name, dict(s.params))
    except StrategyParamsError as exc:
        return [Problem("InvalidStrategyParams", f"spec.strategy.params.{name}: {msg}")
                for name, msg in exc.problems.items()]
    except ConfigError as exc:
        return [Problem("UnknownStrategy",
                        f"spec.strategy.name: {str(exc).removeprefix('strategy.name: ')}")]
    if s.version is not None and s.version != strategy.strategy_version:
        return [Problem("StrategyVersionMismatch", f"spec.strategy.version: {s.version!r} "
                        f"asked, but this build runs {strategy.strategy_version!r}")]
    return []


def check_credentials(mode: str, ref: Credentials, secret: Mapping[str, str] | None,
                      key_secret: Mapping[str, str] | None, namespace: str) -> list[Problem]:
    where = "spec.credentials.secretName"
    key_where = "spec.credentials.keySecretName"
    problems: list[Problem] = []
    if secret is None:
        problems.append(Problem("SecretNotFound",
                                f"{where}: Secret {namespace}/{ref.secret_name} not found"))
    else:
        problems += [Problem("SecretKeyMissing", f"{where}: Secret {ref.secret_name} has no "
                             f"key {k!r}") for k in SECRET_KEYS if not secret.get(k)]
    fernet = None
    if key_secret is None:
        problems.append(Problem("SecretNotFound",
                                f"{key_where}: Secret {namespace}/{ref.key_secret_name} "
                                "not found"))
    elif not key_secret.get("key"):
        problems.append(Problem("SecretKeyMissing", f"{key_where}: Secret "
                                f"{ref.key_secret_name} has no key 'key'"))
    else:
        try:
            fernet = Fernet(key_secret["key"].strip().encode())
        except ValueError:
            problems.append(Problem("KeyInvalid", f"{key_where}: the value under 'key' is not a "
                                    "Fernet key (tradefleet secrets keygen makes one)"))
    if secret is None or problems:
        return problems
    for name in SECRET_KEYS:
        problems += _check_value(mode, name, secret[name], fernet, where, ref)
    return problems


def _check_value(mode: str, name: str, raw: str, fernet: Fernet | None, where: str,
                 ref: Credentials) -> list[Problem]:
    if not sec.is_encrypted(raw):
        if mode != "sim":
            return [Problem("PlaintextSecret", f"{where}: {name} is plaintext; {mode} mode "
                            "needs enc:... values (tradefleet secrets encrypt)")]
        plain = raw
    else:
        try:
            assert fernet is not None
            plain = sec.decrypt(fernet, raw)
        except sec.SecretError:
            return [Problem("KeyDoesNotDecrypt", f"{where}: {name} cannot be decrypted with "
                            f"the key in Secret {ref.key_secret_name} (wrong key or corrupted "
                            "value)")]
    if name == "cano" and not re.fullmatch(r"\d{8}", plain):
        return [Problem("InvalidSecretValue", f"{where}: cano must be 8 digits")]
    return []


def check_worker_id(body: Mapping[str, Any], peers: list[Mapping[str, Any]]) -> list[Problem]:
    """The name is the worker's id in Postgres, one id space for every namespace: of two
    TradingWorkers of one name, the older runs and the newer is refused (both, when created
    in the same second: never two pods of one worker)."""
    meta = body.get("metadata") or {}
    mine = meta.get("creationTimestamp") or ""
    for peer in peers:
        theirs = peer.get("metadata") or {}
        if (theirs.get("creationTimestamp") or "") <= mine:
            return [Problem("WorkerIdTaken", f"metadata.name: worker id {meta.get('name')!r} "
                            f"is TradingWorker {theirs.get('namespace')}/{theirs.get('name')} "
                            "already (the name is the worker's id in Postgres, one for every "
                            "namespace)")]
    return []


async def preflight(spec: TradingWorkerSpec, namespace: str, read_secret: SecretReader,
                    config: OperatorConfig) -> list[Problem]:
    return check_strategy(spec) + await check_secrets(spec, namespace, read_secret, config)


def secrets_read(spec: TradingWorkerSpec, config: OperatorConfig) -> tuple[str, ...]:
    """The names of the Secrets ``check_secrets`` reads for this spec, in its order."""
    names = []
    if spec.credentials is not None:
        names += [spec.credentials.secret_name, spec.credentials.key_secret_name]
    names += [ref.name for ref in (config.db_secret, config.pod_db_ca_secret) if ref]
    return tuple(names)


async def check_secrets(spec: TradingWorkerSpec, namespace: str, read_secret: SecretReader,
                        config: OperatorConfig) -> list[Problem]:
    """The Secret half of the preflight: reads them, checks them, drops what it read."""
    problems: list[Problem] = []
    if spec.credentials is not None:
        secret = await read_secret(namespace, spec.credentials.secret_name)
        key = await read_secret(namespace, spec.credentials.key_secret_name)
        problems += check_credentials(spec.mode, spec.credentials, secret, key, namespace)
    if config.db_secret is not None:
        db = await read_secret(namespace, config.db_secret.name)
        if db is None or not db.get(config.db_secret.key):
            problems.append(Problem("SecretNotFound", f"operator setting "
                                    f"TRADEFLEET_OPERATOR_DB_SECRET: Secret {namespace}/"
                                    f"{config.db_secret.name} with key {config.db_secret.key!r}"
                                    " not found (worker pods take their DSN from it)"))
    if config.pod_db_ca_secret is not None:
        ca = config.pod_db_ca_secret
        found = await read_secret(namespace, ca.name)
        if found is None or not found.get(ca.key):
            problems.append(Problem("SecretNotFound", f"operator setting "
                                    f"TRADEFLEET_OPERATOR_POD_DB_CA_SECRET: Secret {namespace}/"
                                    f"{ca.name} with key {ca.key!r} not found (worker pods "
                                    "verify the database server with it)"))
    return problems
