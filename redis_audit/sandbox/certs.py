"""A throwaway certificate authority and the certificates a TLS sandbox needs.

`make_certificate` is public so that tests can make a certificate that expires soon
or has already expired, signed by the sandbox's CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from redis_audit.files import write_file

DEFAULT_SANS: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")
# Long enough that a sandbox never trips the certificate-expiry checks (TLS-003 warns under 30 days).
_VALIDITY = dt.timedelta(days=365)
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, cert_file: Path, key_file: Path) -> None:
        write_file(cert_file, self.certificate.public_bytes(serialization.Encoding.PEM), what="sandbox certificate")
        _write_private(key_file, _key_pem(self.key))


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files a TLS sandbox uses; the server certificate is also the nodes' client certificate."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(common_name: str = "redis-audit sandbox CA") -> CertificateAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


def make_certificate(
    ca: CertificateAuthority,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    sans: tuple[str, ...] | list[str] = DEFAULT_SANS,
    common_name: str = "redis-audit sandbox",
) -> IssuedCertificate:
    """A leaf certificate signed by `ca`, usable both as server and as client certificate.

    Redis presents its server certificate as client certificate too (replication, cluster bus,
    Sentinel links), so both extended key usages are set.
    """
    now = _now()
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for san in sans:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            alt_names.append(x509.DNSName(san))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _CLOCK_SKEW)
        .not_valid_after(not_after or now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return IssuedCertificate(cert, key)


def write_ca(ca: CertificateAuthority, cert_file: Path, key_file: Path) -> None:
    write_file(cert_file, ca.certificate.public_bytes(serialization.Encoding.PEM), what="sandbox certificate")
    _write_private(key_file, _key_pem(ca.key))


def load_ca(cert_file: Path, key_file: Path) -> CertificateAuthority:
    """The sandbox's CA back from disk, so that a test can issue more certificates with it."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_file} is not an EC private key")
    return CertificateAuthority(cert, key)


def create_tls_files(directory: Path) -> TlsFiles:
    """A fresh CA, a server certificate and a client certificate, written under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca()
    files = TlsFiles(
        ca_file=directory / "ca.crt",
        server_cert_file=directory / "server.crt",
        server_key_file=directory / "server.key",
        client_cert_file=directory / "client.crt",
        client_key_file=directory / "client.key",
    )
    write_ca(ca, files.ca_file, directory / "ca.key")
    make_certificate(ca).write(files.server_cert_file, files.server_key_file)
    make_certificate(ca, common_name="redis-audit sandbox client").write(files.client_cert_file, files.client_key_file)
    return files


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Private keys are 0600 from the start (the temporary file is), never readable by others even briefly."""
    write_file(path, data, what="sandbox private key", mode=0o600)
