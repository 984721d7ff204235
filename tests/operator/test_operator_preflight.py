"""What the schema cannot check and the operator must before it starts anything: the
Secrets exist, hold what the worker reads, and the key decrypts them; the strategy exists,
accepts its parameters and has the version asked. Every problem names its field."""

from __future__ import annotations

from cryptography.fernet import Fernet
from tests.operator.factories import CONFIG, SPEC

from tradefleet.operator.preflight import check_credentials, check_strategy, preflight
from tradefleet.operator.resources import Credentials, parse_worker_spec
from tradefleet.settings.secrets import encrypt

REF = Credentials(secret_name="kis", key_secret_name="key")
KEY = Fernet.generate_key()
OTHER = Fernet.generate_key()


def _secret(key: bytes = KEY, **override: str) -> dict[str, str]:
    f = Fernet(key)
    values = {"appkey": encrypt(f, "PSKEY"), "appsecret": encrypt(f, "sec"),
              "cano": encrypt(f, "50001234")}
    return {**values, **override}


def _reasons(problems) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(p.reason, p.message.split(":")[0]) for p in problems]


def test_good_credentials_pass_and_nothing_decrypted_is_returned():
    problems = check_credentials("paper", REF, _secret(), {"key": KEY.decode()}, "t")
    assert problems == []


def test_missing_secrets_and_keys_name_their_field():
    assert _reasons(check_credentials("paper", REF, None, None, "t")) == [
        ("SecretNotFound", "spec.credentials.secretName"),
        ("SecretNotFound", "spec.credentials.keySecretName")]
    partial = {k: v for k, v in _secret().items() if k != "cano"}
    assert _reasons(check_credentials("paper", REF, partial, {"key": KEY.decode()}, "t")) == [
        ("SecretKeyMissing", "spec.credentials.secretName")]
    assert _reasons(check_credentials("paper", REF, _secret(), {"other": "x"}, "t")) == [
        ("SecretKeyMissing", "spec.credentials.keySecretName")]
    assert _reasons(check_credentials("paper", REF, _secret(), {"key": "not-a-key"}, "t")) == [
        ("KeyInvalid", "spec.credentials.keySecretName")]


def test_a_key_that_does_not_decrypt_and_plaintext_in_paper_are_refused():
    wrong = check_credentials("paper", REF, _secret(OTHER), {"key": KEY.decode()}, "t")
    assert {p.reason for p in wrong} == {"KeyDoesNotDecrypt"} and len(wrong) == 3
    assert "PSKEY" not in " ".join(p.message for p in wrong)
    plain = check_credentials("real", REF, _secret(appkey="PSKEY"), {"key": KEY.decode()}, "t")
    assert _reasons(plain) == [("PlaintextSecret", "spec.credentials.secretName")]
    bad_cano = _secret(cano=encrypt(Fernet(KEY), "123"))
    assert _reasons(check_credentials("paper", REF, bad_cano, {"key": KEY.decode()}, "t")) == [
        ("InvalidSecretValue", "spec.credentials.secretName")]
    sim_plain = check_credentials("sim", REF, _secret(appkey="sim"), {"key": KEY.decode()}, "t")
    assert sim_plain == []


def test_strategy_name_params_and_version():
    ok = parse_worker_spec({**SPEC, "strategy": {"name": "ma_breakout",
                                                 "version": "ma_breakout/1"}})
    assert check_strategy(ok) == []
    unknown = parse_worker_spec({**SPEC, "strategy": {"name": "moonshot"}})
    assert _reasons(check_strategy(unknown)) == [("UnknownStrategy", "spec.strategy.name")]
    params = parse_worker_spec({**SPEC, "strategy": {"params": {"short": 30, "long": 5}}})
    assert _reasons(check_strategy(params)) == [
        ("InvalidStrategyParams", "spec.strategy.params.short")]
    version = parse_worker_spec({**SPEC, "strategy": {"version": "ma_breakout/2"}})
    assert _reasons(check_strategy(version)) == [
        ("StrategyVersionMismatch", "spec.strategy.version")]


async def test_preflight_reads_the_referenced_secrets_and_the_db_secret():
    spec = parse_worker_spec({**SPEC, "mode": "paper", "broker": {"baseUrl": "https://x:1"},
                              "credentials": {"secretName": "kis", "keySecretName": "key"}})
    store = {("t", "kis"): _secret(), ("t", "key"): {"key": KEY.decode()}}
    asked = []

    async def read(namespace: str, name: str):  # noqa: ANN202
        asked.append((namespace, name))
        return store.get((namespace, name))
    problems = await preflight(spec, "t", read, CONFIG)
    assert _reasons(problems) == [("SecretNotFound", "operator setting "
                                   "TRADEFLEET_OPERATOR_DB_SECRET")]
    assert asked == [("t", "kis"), ("t", "key"), ("t", "tradefleet-db")]
    store[("t", "tradefleet-db")] = {"dsn": "postgresql://x"}
    assert await preflight(spec, "t", read, CONFIG) == []


def test_one_worker_id_for_every_namespace_the_older_wins():
    from tradefleet.operator.preflight import check_worker_id

    def tw(ns: str, created: str) -> dict:
        return {"metadata": {"name": "w-1", "namespace": ns, "creationTimestamp": created}}
    old, new = tw("trading", "2026-11-24T00:00:00Z"), tw("canary", "2026-11-24T00:05:00Z")
    assert check_worker_id(old, [new]) == []
    (problem,) = check_worker_id(new, [old])
    assert problem.reason == "WorkerIdTaken" and problem.message.startswith("metadata.name:")
    assert "trading/w-1" in problem.message
    assert check_worker_id(new, []) == []
    same = tw("canary", "2026-11-24T00:00:00Z")          # the same second: both refused
    assert check_worker_id(same, [old]) and check_worker_id(old, [same])
