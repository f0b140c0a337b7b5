"""A certificate authority and a broker certificate for the local broker's TLS listener.

Made once per data directory with ``openssl`` and kept in ``<data_dir>/tls``: ``ca.pem`` is the
bundle clients trust (``HUB_KAFKA_SSL_CAFILE``), ``broker.pem`` the broker's PEM keystore (its
key, its certificate for 127.0.0.1 and localhost, then the CA). Nothing here is meant for a
production cluster, whose certificates come from the distributor's own PKI.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError
from hub.ops.local_service import require

_DAYS = "825"  # within the limit clients accept for a server certificate


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what clients trust
    keystore: Path  # the broker's key and certificate chain (PEM)


def ensure_broker_tls(data_dir: Path) -> TlsFiles:
    """The CA and broker keystore of ``data_dir``: made on first use, reused afterwards so
    clients that already trust the CA keep working across restarts."""
    tls_dir = data_dir / "tls"
    files = TlsFiles(tls_dir / "ca.pem", tls_dir / "broker.pem")
    if files.ca_file.is_file() and files.keystore.is_file():
        return files
    openssl = require("openssl", "install OpenSSL (Debian: apt-get install openssl)")
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    ca_key, broker_key = tls_dir / "ca.key", tls_dir / "broker.key"
    csr, cert, ext = tls_dir / "broker.csr", tls_dir / "broker.crt", tls_dir / "broker.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n",
        encoding="utf-8",
    )
    _run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", _DAYS,
         "-subj", "/CN=hub local Kafka CA", "-keyout", str(ca_key), "-out", str(files.ca_file),
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    )  # fmt: skip
    _run(
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(broker_key), "-out", str(csr)],
    )  # fmt: skip
    _run(
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(files.ca_file),
         "-CAkey", str(ca_key), "-CAcreateserial", "-days", _DAYS, "-sha256",
         "-extfile", str(ext), "-out", str(cert)],
    )  # fmt: skip
    files.keystore.touch(mode=0o600)
    files.keystore.write_text(
        broker_key.read_text(encoding="utf-8")
        + cert.read_text(encoding="utf-8")
        + files.ca_file.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    for leftover in (csr, ext, cert, broker_key, tls_dir / "ca.srl"):
        leftover.unlink(missing_ok=True)
    return files


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"openssl could not make the broker's TLS files: {done.stderr.strip()}")
