"""``tradefleet secrets keygen|encrypt``: make the key file and the ``enc:`` values that
settings accept for appkey, appsecret and the account number."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("secrets", help="encrypt secrets for the settings")
    sub = p.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    keygen = sub.add_parser("keygen", help="write a new key file (mode 0600)")
    keygen.add_argument("--out", type=Path, required=True, help="where to write the key")
    keygen.set_defaults(handler=_keygen)
    enc = sub.add_parser("encrypt", help="encrypt a value read from stdin (never argv)")
    enc.add_argument("--key-file", type=Path, required=True)
    enc.set_defaults(handler=_encrypt)


def _keygen(args: argparse.Namespace) -> int:
    from tradefleet.settings.secrets import generate_key_file

    try:
        generate_key_file(args.out)
    except FileExistsError:
        print(f"--out: {args.out} already exists; refusing to overwrite a key", file=sys.stderr)
        return 2
    print(f"key written to {args.out} (mode 0600). Point key_file / TRADEFLEET_KEY_FILE at it.")
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    from tradefleet.settings.secrets import SecretError, encrypt, read_key

    try:
        fernet = read_key(args.key_file)
    except SecretError as exc:
        print(f"--key-file: {exc}", file=sys.stderr)
        return 2
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        print("stdin: nothing to encrypt (pipe the value in)", file=sys.stderr)
        return 2
    print(encrypt(fernet, value))
    return 0
