"""The built-in pack object. Check modules register on it; pyproject.toml exports it."""

from redis_audit.check import CheckPack

PACK = CheckPack("builtin")
