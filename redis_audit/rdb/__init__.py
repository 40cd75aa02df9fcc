"""Reading RDB snapshots (Redis 6.2-8.x, Valkey 7.2-9.x) as a stream of per-key facts, without a server.

Pure: reads bytes from any file-like object (a file, a gzip stream, an S3 body) and opens no
connection. ``RdbReader`` yields ``KeyBatch`` columns the keyspace census folds like a live scan;
``RdbError`` (one line, with the byte offset) for anything that is not a complete, valid RDB.
"""

from redis_audit.rdb.errors import (
    ChecksumMismatch,
    CorruptRdb,
    NotAnRdb,
    RdbError,
    TruncatedRdb,
    UnsupportedRdb,
)
from redis_audit.rdb.memory import MemoryModel, model_for
from redis_audit.rdb.reader import RdbReader, module_name
from redis_audit.rdb.records import DbStats, KeyBatch, RdbInfo, RdbSummary

__all__ = [
    "ChecksumMismatch",
    "CorruptRdb",
    "DbStats",
    "KeyBatch",
    "MemoryModel",
    "NotAnRdb",
    "RdbError",
    "RdbInfo",
    "RdbReader",
    "RdbSummary",
    "TruncatedRdb",
    "UnsupportedRdb",
    "model_for",
    "module_name",
]
