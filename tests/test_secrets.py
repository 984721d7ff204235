"""Secrets encrypted at rest (spec §5.1) and never shown."""

from __future__ import annotations

import io
import logging

import pytest
from tests.test_settings import env  # noqa: F401 - fixture

from tradefleet.cli import main
from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_settings

APPKEY, APPSECRET, CANO = "PSabcdefghijklmnop1234", "s3cr3t-appsecret-xyz-98765", "73451234"


def make_key(tmp_path, capsys) -> str:
    key = tmp_path / "tf.key"
    assert main(["secrets", "keygen", "--out", str(key)]) == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    capsys.readouterr()
    return str(key)


def encrypt(key: str, value: str, monkeypatch, capsys) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(value + "\n"))
    assert main(["secrets", "encrypt", "--key-file", key]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("enc:") and value not in out
    return out


def test_plaintext_secret_in_paper_mode_is_refused_with_how_to(env):  # noqa: F811
    env(TRADEFLEET_MODE="paper", TRADEFLEET_BROKER__APPKEY=APPKEY)
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "broker.appkey" in text and "tradefleet secrets encrypt" in text
    assert APPKEY not in text


def test_encrypted_secrets_round_trip_and_never_show(env, tmp_path, monkeypatch,  # noqa: F811
                                                     capsys, caplog):
    key = make_key(tmp_path, capsys)
    env(TRADEFLEET_MODE="paper", TRADEFLEET_KEY_FILE=key,
        TRADEFLEET_BROKER__APPKEY=encrypt(key, APPKEY, monkeypatch, capsys),
        TRADEFLEET_BROKER__APPSECRET=encrypt(key, APPSECRET, monkeypatch, capsys),
        TRADEFLEET_ACCOUNT__CANO=encrypt(key, CANO, monkeypatch, capsys))
    s = load_settings()
    assert s.broker.appkey.get_secret_value() == APPKEY
    assert s.account.cano.get_secret_value() == CANO
    shown = [repr(s), str(s), s.model_dump_json(), str(s.model_dump()), str(s.safe_summary())]
    for text in shown:
        for secret in (APPKEY, APPSECRET, CANO):
            assert secret not in text
    assert s.account_masked.endswith("-01") and CANO not in s.account_masked

    from tradefleet.adapters.telemetry.logging import configure_logging, get_logger
    from tradefleet.adapters.telemetry.redaction import register_secret
    stream = io.StringIO()
    configure_logging(json_output=True, stream=stream)
    for secret in (APPKEY, APPSECRET):
        register_secret(secret)
    log = get_logger(worker_id="w1")
    log.info("config loaded", **s.safe_summary())
    log.info("calling broker", headers={"appkey": APPKEY, "authorization": "Bearer abc.def"},
             url=f"/x?appsecret={APPSECRET}", account=f"{CANO}-01")
    logging.getLogger("aiohttp.client").warning("failed with key %s", APPKEY)
    try:
        raise RuntimeError(f"broker refused {APPSECRET}")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    assert "config loaded" in out and "boom" in out
    for secret in (APPKEY, APPSECRET, CANO, "abc.def"):
        assert secret not in out


def test_wrong_key_is_a_clear_error_without_the_value(env, tmp_path, monkeypatch,  # noqa: F811
                                                      capsys):
    key = make_key(tmp_path, capsys)
    token = encrypt(key, APPKEY, monkeypatch, capsys)
    other = tmp_path / "other.key"
    assert main(["secrets", "keygen", "--out", str(other)]) == 0
    env(TRADEFLEET_MODE="paper", TRADEFLEET_KEY_FILE=str(other),
        TRADEFLEET_BROKER__APPKEY=token)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "broker.appkey" in str(info.value) and "cannot be decrypted" in str(info.value)
    assert token not in str(info.value)


def test_keygen_refuses_to_overwrite(tmp_path, capsys):
    key = make_key(tmp_path, capsys)
    assert main(["secrets", "keygen", "--out", key]) == 2
    assert "already exists" in capsys.readouterr().err


def _encrypted_env(tmp_path, capsys, monkeypatch) -> dict[str, str]:
    key = make_key(tmp_path, capsys)
    return {"TRADEFLEET_KEY_FILE": key,
            "TRADEFLEET_BROKER__APPKEY": encrypt(key, APPKEY, monkeypatch, capsys),
            "TRADEFLEET_BROKER__APPSECRET": encrypt(key, APPSECRET, monkeypatch, capsys),
            "TRADEFLEET_ACCOUNT__CANO": encrypt(key, CANO, monkeypatch, capsys)}


@pytest.mark.parametrize(("mode", "confirm", "rate"), [("paper", "false", 2),
                                                         ("real", "true", 20)])
def test_paper_and_real_load_with_encrypted_secrets_and_mode_rate_limit(
        env, tmp_path, monkeypatch, capsys, mode, confirm, rate):  # noqa: F811
    env(TRADEFLEET_MODE=mode, TRADEFLEET_CONFIRM_REAL_TRADING=confirm,
        **_encrypted_env(tmp_path, capsys, monkeypatch))
    s = load_settings()
    assert s.mode == mode and s.broker.rate_limit_per_second == rate
    assert s.broker.appsecret.get_secret_value() == APPSECRET
    assert s.account_masked == f"{CANO[:4]}****-01"


def test_real_mode_without_confirmation_is_refused_even_with_encrypted_secrets(
        env, tmp_path, monkeypatch, capsys):  # noqa: F811
    env(TRADEFLEET_MODE="real", **_encrypted_env(tmp_path, capsys, monkeypatch))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "confirm_real_trading" in str(info.value)


def test_corrupted_token_and_missing_key_file_are_named(
        env, tmp_path, monkeypatch, capsys):  # noqa: F811
    values = _encrypted_env(tmp_path, capsys, monkeypatch)
    broken = values["TRADEFLEET_BROKER__APPSECRET"][:-6] + "AAAAAA"
    env(TRADEFLEET_MODE="paper", **{**values, "TRADEFLEET_BROKER__APPSECRET": broken})
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "broker.appsecret (TRADEFLEET_BROKER__APPSECRET)" in str(info.value)
    assert broken not in str(info.value) and "broker.appkey" not in str(info.value)
    env(TRADEFLEET_MODE="paper", **{**values, "TRADEFLEET_KEY_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "key_file (TRADEFLEET_KEY_FILE)" in str(info.value)


def test_encrypt_reads_stdin_only_and_refuses_empty_input_or_bad_key(tmp_path, monkeypatch,
                                                                     capsys):
    key = make_key(tmp_path, capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["secrets", "encrypt", "--key-file", key]) == 2
    assert "stdin" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["secrets", "encrypt", "--key-file", key, APPKEY])  # no value on argv
    capsys.readouterr()
    bad = tmp_path / "bad.key"
    bad.write_text("not-a-key\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(APPKEY + "\n"))
    assert main(["secrets", "encrypt", "--key-file", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "--key-file" in captured.err and APPKEY not in captured.err + captured.out
