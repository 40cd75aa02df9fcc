"""redis-audit: a production-readiness auditor for Redis and Valkey deployments."""

__version__ = "0.1.0"
