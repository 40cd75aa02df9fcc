"""The throwaway CA and certificates: valid chains, SANs, and certificates that expire on demand."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509

from redis_audit.sandbox.certs import create_tls_files, load_ca, make_certificate


def test_tls_files_are_signed_by_the_ca(tmp_path: Path) -> None:
    files = create_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(files.server_cert_file.read_bytes())
    server.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("::1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert oct(files.server_key_file.stat().st_mode & 0o777) == "0o600"


def test_make_certificate_can_expire_soon_or_be_expired(tmp_path: Path) -> None:
    create_tls_files(tmp_path)
    ca = load_ca(tmp_path / "ca.crt", tmp_path / "ca.key")
    now = dt.datetime.now(dt.UTC)
    soon = make_certificate(
        ca, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=5), sans=["127.0.0.1"]
    )
    expired = make_certificate(
        ca, not_before=now - dt.timedelta(days=10), not_after=now - dt.timedelta(days=1), sans=["127.0.0.1"]
    )
    assert dt.timedelta(days=4) < soon.certificate.not_valid_after_utc - now <= dt.timedelta(days=5)
    assert expired.certificate.not_valid_after_utc < now
    soon.certificate.verify_directly_issued_by(ca.certificate)
    soon.write(tmp_path / "soon.crt", tmp_path / "soon.key")
    assert (tmp_path / "soon.crt").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
