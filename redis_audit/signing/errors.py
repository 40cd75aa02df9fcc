"""Errors of the signing layer, each tied to its documented exit code."""

from __future__ import annotations

from redis_audit.exitcodes import AuditError, ExitCode, UsageError


class InvalidReport(AuditError):
    """`verify` refused an envelope; `reason` is one line, safe to print."""

    exit_code = ExitCode.INVALID_REPORT

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(reason.split())  # one line, whatever the caller passed
        super().__init__(self.reason)


class SigningError(AuditError):
    """Signing could not produce a valid signature (KMS refused, wrong key type...)."""

    exit_code = ExitCode.SIGNING_FAILED


class KeyFileError(UsageError):
    """A key file is missing, unreadable, of an unsupported type, or would be overwritten."""


def short_repr(value: object) -> str:
    """A short, printable rendering of an untrusted value for a one-line reason."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
