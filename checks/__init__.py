"""The built-in check pack: one module per category, each check self-describing.

Every module in this package is imported so that its checks register on PACK; a new
category is a new file. The pack is exported through the `redis_audit.checks` entry
point, exactly like a third-party pack.
"""

import importlib
import pkgutil

from .pack import PACK

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _module.name.startswith("_") and _module.name != "pack":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PACK"]
