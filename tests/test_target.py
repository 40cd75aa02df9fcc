"""Target URLs: every supported form parses, and bad input is a one-line UsageError."""

import pytest

from redis_audit.exitcodes import UsageError
from redis_audit.target import TlsOptions, parse_url
from redis_audit.topology import Address


def test_plain_and_tls_urls():
    plain = parse_url("redis://10.0.0.1:7000")
    assert (plain.kind, plain.tls, plain.seeds) == ("redis", False, (Address("10.0.0.1", 7000),))
    tls = parse_url("rediss://auditor:pw%40x@cache.internal:6380")
    assert tls.tls and tls.user == "auditor" and tls.password is not None
    assert tls.password.reveal() == "pw@x"


def test_default_ports():
    assert parse_url("redis://h").seeds == (Address("h", 6379),)
    assert parse_url("redis+sentinel://a,b:26380/m").seeds == (Address("a", 26379), Address("b", 26380))


def test_sentinel_url_needs_master_name():
    parsed = parse_url("rediss+sentinel://10.0.0.1:26379,10.0.0.2:26379/payments")
    assert parsed.kind == "sentinel" and parsed.tls and parsed.master_name == "payments"
    with pytest.raises(UsageError, match="master name"):
        parse_url("redis+sentinel://10.0.0.1:26379")


def test_ipv6_seed():
    assert parse_url("redis://[::1]:7000").seeds == (Address("::1", 7000),)
    assert str(Address("::1", 7000)) == "[::1]:7000"


@pytest.mark.parametrize("url", ["http://h:1", "redis://", "redis://h:notaport", "redis://h:99999", "h:6379",
                                 "redis://a:1,b:2"])
def test_malformed_urls_are_usage_errors(url):
    with pytest.raises(UsageError):
        parse_url(url)


def test_password_never_in_error_or_repr():
    parsed = parse_url("redis://u:hunter2-secret@h:1")
    assert "hunter2-secret" not in repr(parsed)
    with pytest.raises(UsageError) as err:
        parse_url("redis://u:hunter2-secret@h:notaport")
    assert "hunter2-secret" not in str(err.value)


def test_missing_certificate_file(tmp_path):
    with pytest.raises(UsageError, match="--tls-ca: no such file"):
        TlsOptions(enabled=True, ca_file=tmp_path / "nope.pem").validate()
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(UsageError, match="together"):
        TlsOptions(enabled=True, cert_file=cert).validate()
