"""Package layout: the engine in redis_audit/, the built-in check pack in checks/ (as redis_audit_checks)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["redis_audit", "redis_audit.*"]), "redis_audit_checks"],
    package_dir={"redis_audit_checks": "checks"},
)
