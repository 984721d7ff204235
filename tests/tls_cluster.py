"""A throw-away PostgreSQL cluster with ssl=on and certificates made by the test.

Built from the system's PostgreSQL binaries (pgserver's build lacks SSL). PostgreSQL refuses
to run as root, so under root (as in CI) the cluster runs as the unprivileged ``pgserver``
system user, as pgserver does."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(name: str):
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(ca_key, ca_cert, dns_names: list[str], ips: list[str]):
    key = _key()
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName(n) for n in dns_names] + [
        x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


@dataclass
class TlsCluster:
    data: Path
    port: int
    ca_file: Path
    other_ca_file: Path
    user: str | None

    def dsn(self, host: str = "localhost") -> str:
        return f"postgresql://postgres@{host}:{self.port}/postgres"

    def stop(self) -> None:
        _run([str(_bin("pg_ctl")), "-D", str(self.data), "-m", "immediate", "stop"], self.user)


def _bin(name: str) -> Path:
    """The pgserver wheel's build has no SSL support, so this cluster uses the system's
    PostgreSQL server binaries (Debian's postgresql package, which .ci/run installs)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                        key=lambda p: int(p.parent.parent.name), reverse=True)
    if not candidates:
        raise RuntimeError("no PostgreSQL server with SSL support found under "
                           "/usr/lib/postgresql (apt-get install postgresql)")
    return candidates[0].parent / name


def _run(cmd: list[str], user: str | None) -> None:
    subprocess.run(cmd, check=True, user=user, capture_output=True, timeout=120)


def start_tls_cluster(base: Path) -> TlsCluster:
    user = None
    if os.geteuid() == 0:
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        user = "pgserver"
        ensure_user_exists(user)
        ensure_prefix_permissions(base)
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    data.mkdir()
    if user:
        import pwd
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(data, pw.pw_uid, pw.pw_gid)
    data.chmod(0o700)
    _run([str(_bin("initdb")), "-D", str(data), "-U", "postgres", "--auth=trust"], user)

    ca_key, ca_cert = make_ca("tradefleet test CA")
    key, cert = make_server_cert(ca_key, ca_cert, ["localhost"], [])
    _, other_ca = make_ca("someone else's CA")
    (data / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (data / "server.key").write_bytes(_pem_key(key))
    ca_file = base / "ca.crt"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    other_ca_file = base / "other-ca.crt"
    other_ca_file.write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(f"\nssl = on\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                   f"unix_socket_directories = '{data}'\n")
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostnossl all all 0.0.0.0/0 reject\n"
        "hostssl all all 127.0.0.1/32 trust\n")
    if user:
        import pwd
        pw = pwd.getpwnam(user)
        for f in ("server.crt", "server.key", "postgresql.conf", "pg_hba.conf"):
            os.chown(data / f, pw.pw_uid, pw.pw_gid)
    (data / "server.key").chmod(0o600)
    _run([str(_bin("pg_ctl")), "-D", str(data), "-l", str(data / "log.txt"), "-w", "start"],
         user)
    return TlsCluster(data, port, ca_file, other_ca_file, user)
