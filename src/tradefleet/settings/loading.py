"""Loading settings from env vars (``TRADEFLEET_``, nested ``__``) over an optional YAML file,
and turning pydantic's errors into one ConfigError that names every bad field.

The environment is a parameter (default ``os.environ``) so that callers and tests can load a
configuration without touching the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from tradefleet.domain.errors import ConfigError
from tradefleet.settings import secrets as sec
from tradefleet.settings.database_rules import check_database
from tradefleet.settings.model import DatabaseSettings, Settings, describe_errors

CONFIG_ENV = "TRADEFLEET_CONFIG"


def _read_yaml(path: Path | None, environ: Mapping[str, str]) -> dict[str, Any]:
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must be a mapping of settings")
    return data


def _describe(exc: ValidationError) -> ConfigError:
    return ConfigError("invalid configuration:\n  - " + "\n  - ".join(describe_errors(exc)))


class _MappingEnvSource(EnvSettingsSource):
    """The normal env source, but reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # same shape as pydantic-settings' own reader: keys lower-cased (not case-sensitive)
        return {(k if self.case_sensitive else k.lower()): v for k, v in self._environ.items()
                if not (self.env_ignore_empty and v == "")}


def _env_over_file(environ: Mapping[str, str]) -> type[Settings]:
    class _EnvOverFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # env vars win over the YAML file (passed as init kwargs)
            return _MappingEnvSource(settings_cls, environ), init_settings
    return _EnvOverFile


def load_settings(config_file: Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Validate the whole configuration; raise one ConfigError listing every bad field."""
    environ = os.environ if environ is None else environ
    data = _read_yaml(config_file, environ)
    data.pop("config", None)
    try:
        loaded = _env_over_file(environ)(**data)
    except ValidationError as exc:
        raise _describe(exc) from None
    return Settings.model_construct(**{k: getattr(loaded, k) for k in Settings.model_fields})


class _DbOnly(BaseModel):
    db: DatabaseSettings = DatabaseSettings()


def load_database_settings(config_file: Path | None = None,
                           environ: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Only the ``db`` section (for ``tradefleet db``, which needs no worker identity), with
    the same rules as a worker's: the mode's TLS rule, and an ``enc:`` password decrypted
    with key_file."""
    environ = os.environ if environ is None else environ
    whole = _read_yaml(config_file, environ)
    data = whole.get("db") or {}
    if not isinstance(data, dict):
        raise ConfigError("db: must be a mapping (dsn, sslmode, sslrootcert, allow_insecure)")
    env = {k.removeprefix("TRADEFLEET_DB__").lower(): v for k, v in environ.items()
           if k.upper().startswith("TRADEFLEET_DB__") and v != ""}
    try:
        db = _DbOnly(db={**data, **env}).db
    except ValidationError as exc:
        raise _describe(exc) from None
    mode = str(environ.get("TRADEFLEET_MODE") or whole.get("mode") or "sim")
    key_file = environ.get("TRADEFLEET_KEY_FILE") or whole.get("key_file")
    problems: list[str] = []
    if mode not in ("sim", "paper", "real"):
        problems.append(f"mode (TRADEFLEET_MODE): {mode!r} is not one of sim, paper, real")
    fernet = None
    if key_file:
        try:
            fernet = sec.read_key(Path(key_file))
        except sec.SecretError as exc:
            problems.append(f"key_file (TRADEFLEET_KEY_FILE): {exc}")
    checked = check_database(db.dsn.get_secret_value() if db.dsn else None,
                             sslmode=db.sslmode, allow_insecure=db.allow_insecure, mode=mode,
                             fernet=fernet)
    problems += checked.problems
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    if checked.dsn is not None:
        db = db.model_copy(update={"dsn": SecretStr(checked.dsn)})
    return db
