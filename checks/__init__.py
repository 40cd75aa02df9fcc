"""The built-in check pack: one module per category, each check self-describing.

Registered through the `redis_audit.checks` entry point, exactly like a third-party pack.
"""

from . import audit, auth, ha, memory, tls  # noqa: F401  (importing registers the checks)
from .pack import PACK

__all__ = ["PACK"]
