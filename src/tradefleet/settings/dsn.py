"""Reading a PostgreSQL URI without a driver: where it connects (local or over the network),
with which sslmode, and its password, which may be an ``enc:`` secret.

Parsed by hand rather than with urllib because libpq URIs may list several hosts
(``postgresql://u@h1:5432,h2:5432/db``) and put the host in the query (``?host=/socket``).
Nothing here ever puts the DSN or its password into an error message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from cryptography.fernet import Fernet

from tradefleet.settings import secrets as sec

SCHEMES = ("postgresql://", "postgres://")
VERIFYING = ("verify-ca", "verify-full")


class DsnError(ValueError):
    pass


@dataclass(frozen=True)
class Dsn:
    hosts: tuple[str, ...]       # '' = the driver's default (PGHOST, else a unix socket)
    sslmode: str | None          # ?sslmode= in the URI itself
    password: str | None         # percent-decoded; may be "enc:..."

    def network_hosts(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The hosts reached over the network: not a unix socket, not loopback."""
        env = os.environ if environ is None else environ
        hosts = [h if h else env.get("PGHOST", "") for h in self.hosts]
        return [h for h in hosts if not _is_local(h)]


def _is_local(host: str) -> bool:
    host = host.strip()
    if host == "" or host.startswith("/") or host.startswith("@") or host == "localhost":
        return True                                  # unix socket (or abstract one), loopback
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(dsn: str) -> tuple[str, str, str, str]:
    """(scheme, userinfo, hostlist, rest-from-path) of a postgresql:// URI."""
    scheme = next((s for s in SCHEMES if dsn.startswith(s)), None)
    if scheme is None:
        raise DsnError("must be a postgresql:// URI")
    body = dsn[len(scheme):]
    cut = min((i for i in (body.find("/"), body.find("?")) if i >= 0), default=len(body))
    netloc, rest = body[:cut], body[cut:]
    userinfo, at, hostlist = netloc.rpartition("@")
    if not at:
        userinfo, hostlist = "", netloc
    return scheme, userinfo, hostlist, rest


def _host_only(entry: str) -> str:
    entry = unquote(entry)
    if entry.startswith("["):                        # [::1]:5432
        return entry[1:entry.find("]")] if "]" in entry else entry
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def parse_dsn(dsn: str) -> Dsn:
    _, userinfo, hostlist, rest = _split(dsn)
    query = dict(parse_qsl(rest.partition("?")[2], keep_blank_values=True))
    hosts = tuple(_host_only(h) for h in hostlist.split(",")) if hostlist else ("",)
    if query.get("host"):
        hosts = tuple(h.strip() for h in query["host"].split(","))
    user, colon, password = userinfo.partition(":")
    return Dsn(hosts=hosts, sslmode=query.get("sslmode", "").lower() or None,
               password=unquote(password) if colon and password else None)


def decrypt_dsn(dsn: str, fernet: Fernet | None) -> str:
    """The DSN with its secret decrypted: the whole value may be ``enc:...``, or only the
    password (``postgresql://app:enc:gAAAA...@db.internal/trading``)."""
    if sec.is_encrypted(dsn):
        if fernet is None:
            raise DsnError("is encrypted but key_file is not set")
        dsn = sec.decrypt(fernet, dsn)
    scheme, userinfo, hostlist, rest = _split(dsn)
    user, colon, password = userinfo.partition(":")
    if not (colon and sec.is_encrypted(unquote(password))):
        return dsn
    if fernet is None:
        raise DsnError("the password is encrypted but key_file is not set")
    plain = sec.decrypt(fernet, unquote(password))
    return f"{scheme}{user}:{quote(plain, safe='')}@{hostlist}{rest}"
