"""Secrets encrypted at rest (spec §5.1): ``enc:`` + a Fernet token, decrypted at start-up with
a key read from a key file (in Kubernetes, a mounted Secret). Plaintext never needs to sit in
an env var or a config file, and decrypted values only live in ``SecretStr``."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "enc:"
HOW_TO = ("encrypt it: `tradefleet secrets keygen --out KEYFILE` once, then "
          "`tradefleet secrets encrypt --key-file KEYFILE` (value on stdin) and put the "
          "printed enc:... value in the setting, with key_file pointing at KEYFILE")


class SecretError(ValueError):
    pass


def generate_key_file(path: Path) -> None:
    """Write a new key readable by its owner only; never overwrite an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key() + b"\n")


def read_key(path: Path) -> Fernet:
    try:
        return Fernet(path.read_bytes().strip())
    except FileNotFoundError:
        raise SecretError(f"key file {path} does not exist") from None
    except (ValueError, OSError) as exc:
        raise SecretError(f"key file {path} is not a valid Fernet key ({type(exc).__name__})"
                          ) from None


def encrypt(fernet: Fernet, plaintext: str) -> str:
    return PREFIX + fernet.encrypt(plaintext.encode()).decode()


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def decrypt(fernet: Fernet, value: str) -> str:
    try:
        return fernet.decrypt(value.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise SecretError("cannot be decrypted with the configured key_file "
                          "(wrong key or corrupted value)") from None


class FernetCipher:
    """Encrypts values the fleet stores in Postgres (the shared broker token) with the same
    key as the settings' secrets, so a database dump never holds a usable token."""

    def __init__(self, fernet: Fernet) -> None:
        self._fernet = fernet

    def encrypt(self, plaintext: str) -> str:
        return encrypt(self._fernet, plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return decrypt(self._fernet, ciphertext)
