"""What a command builds from the settings alone: the token cipher and the database
connection. Imports stay inside the functions, so a command pays for them only when it runs
(the worker's start-up time, issue 17)."""

from __future__ import annotations

from typing import Any


def token_cipher(settings: Any, *, simulated: bool) -> Any:
    """The key that encrypts the fleet's shared broker token; paper and real need one."""
    from tradefleet.domain.errors import ConfigError
    from tradefleet.settings.secrets import FernetCipher, read_key

    cipher = FernetCipher(read_key(settings.key_file)) if settings.key_file else None
    if cipher is None and not simulated:
        raise ConfigError("key_file: required in paper/real mode (the fleet's broker token "
                          "is stored encrypted with it)")
    return cipher


async def connect_configured(settings: Any, **pool: Any) -> Any:
    """The configured database (``db.dsn``, else the embedded one), with its TLS settings."""
    from tradefleet.adapters.postgres.connect import connect_database

    db = settings.db
    return await connect_database(
        db.dsn.get_secret_value() if db.dsn else None, sslmode=db.sslmode,
        sslrootcert=str(db.sslrootcert) if db.sslrootcert else None, **pool)
