"""Loading settings from env vars (``TRADEFLEET_``, nested ``__``) over an optional YAML file,
and turning pydantic's errors into one ConfigError that names every bad field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tradefleet.domain.errors import ConfigError
from tradefleet.settings.model import DatabaseSettings, Settings, describe_errors


def _read_yaml(path: Path | None) -> dict[str, Any]:
    path = path or (Path(os.environ["TRADEFLEET_CONFIG"]) if os.environ.get(
        "TRADEFLEET_CONFIG") else None)
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


class _EnvOverFile(Settings):
    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings      # env vars win over the YAML file


def load_settings(config_file: Path | None = None) -> Settings:
    data = _read_yaml(config_file)
    data.pop("config", None)
    try:
        loaded = _EnvOverFile(**data)
    except ValidationError as exc:
        raise _describe(exc) from None
    return Settings.model_construct(**{k: getattr(loaded, k) for k in Settings.model_fields})


class _DbOnly(BaseModel):
    db: DatabaseSettings = DatabaseSettings()


def load_database_settings(config_file: Path | None = None) -> DatabaseSettings:
    """Only the ``db`` section (for ``tradefleet db``, which needs no worker identity)."""
    data = _read_yaml(config_file).get("db", {})
    env = {k.removeprefix("TRADEFLEET_DB__").lower(): v for k, v in os.environ.items()
           if k.startswith("TRADEFLEET_DB__")}
    try:
        return _DbOnly(db={**data, **env}).db
    except ValidationError as exc:
        raise _describe(exc) from None
