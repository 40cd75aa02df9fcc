"""Secrets never print, pickle or survive in error text."""

import logging
import pickle

import pytest

from redis_audit.secret import ScrubbingFilter, Secret, scrub


def test_secret_is_redacted_everywhere():
    secret = Secret("s3cr3t-value-123")
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret) and "s3cr3t" not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert scrub("auth failed for s3cr3t-value-123") == "auth failed for ***"


def test_logging_filter_scrubs(caplog):
    Secret("another-secret-456")
    logger = logging.getLogger("redis_audit.test")
    logger.addFilter(ScrubbingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("connecting with %s", "another-secret-456")
    assert "another-secret-456" not in caplog.text and "***" in caplog.text
