from redis_audit.check import CheckPack

PACK = CheckPack("builtin")
