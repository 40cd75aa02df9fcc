"""Exit codes, decided in one place for every command."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    READY = 0
    NOT_READY = 1
    USAGE = 2  # usage or configuration error (also click's own usage errors)
    INCONCLUSIVE = 3  # the target could not be reached, or a required check errored
    SIGNING_FAILED = 4
    INVALID_REPORT = 5  # verify: bad signature, unknown key, wrong type, expired, mismatch
    UPLOAD_FAILED = 6  # run --upload: the report was written locally but not stored in S3
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it); a failover probe that was interrupted


class AuditError(Exception):
    """An expected failure: the CLI prints its one-line message and exits with its code."""

    exit_code = ExitCode.USAGE


class UsageError(AuditError):
    """Bad input from the user: a one-line message and exit code 2, never a traceback."""

    exit_code = ExitCode.USAGE


class InconclusiveError(AuditError):
    """The audit could not reach a conclusion (target unreachable, authentication refused)."""

    exit_code = ExitCode.INCONCLUSIVE
