"""The rules a database connection meets before a paper or real worker may use it.

Orders, fills and positions live in this database, so in paper and real mode a database
reached over the network is used only over TLS with certificate verification (sslmode
verify-full or verify-ca): otherwise anyone on the path could read or rewrite the book. A
weaker sslmode needs ``db.allow_insecure: true``, and connecting then logs a WARNING
(adapters/postgres/connect.py). Local databases (a unix socket, or loopback) need neither.

The password is a secret like the broker keys: in paper and real mode it is given as
``enc:...`` (the password alone, or the whole DSN) and decrypted with key_file.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet

from tradefleet.settings import secrets as sec
from tradefleet.settings.dsn import VERIFYING, DsnError, decrypt_dsn, parse_dsn

DSN = "db.dsn (TRADEFLEET_DB__DSN)"
SSLMODE = "db.sslmode (TRADEFLEET_DB__SSLMODE)"
ALLOW = "db.allow_insecure (TRADEFLEET_DB__ALLOW_INSECURE)"


@dataclass(frozen=True)
class CheckedDsn:
    dsn: str | None                 # decrypted (None: embedded server, or not decryptable)
    problems: list[str]


def check_database(dsn: str | None, *, sslmode: str | None, allow_insecure: bool, mode: str,
                   fernet: Fernet | None, can_decrypt: bool = True) -> CheckedDsn:
    """Decrypt the DSN and apply the TLS and plaintext rules. ``can_decrypt=False`` (other
    settings already failed, key_file unknown) checks only what is readable without it."""
    if dsn is None:
        return CheckedDsn(None, [])
    raw = dsn
    try:
        if can_decrypt:
            dsn = decrypt_dsn(dsn, fernet)
        elif sec.is_encrypted(dsn):
            return CheckedDsn(None, [])
        parsed = parse_dsn(dsn)
    except (DsnError, sec.SecretError) as exc:
        return CheckedDsn(None, [f"{DSN}: {exc}"])
    problems = []
    if mode in ("paper", "real"):
        plain = parse_dsn(raw).password if not sec.is_encrypted(raw) else None
        if plain is not None and not sec.is_encrypted(plain):
            problems.append(f"{DSN}: a plaintext password is refused in {mode} mode; put the "
                            f"password's enc: value in its place (or encrypt the whole DSN); "
                            f"{sec.HOW_TO}")
        # host names are not shown: in a malformed DSN they may be pieces of the password
        effective = sslmode or parsed.sslmode or "prefer"
        if parsed.network_hosts() and effective not in VERIFYING and not allow_insecure:
            problems.append(
                f"{SSLMODE}: {mode} mode reaches the database over the network (a host that "
                f"is not a unix socket or loopback) with sslmode={effective}; set verify-full (or "
                f"verify-ca) with db.sslrootcert, or accept the risk explicitly with {ALLOW}: "
                f"true (logged as a WARNING at start-up)")
    return CheckedDsn(dsn, problems)
