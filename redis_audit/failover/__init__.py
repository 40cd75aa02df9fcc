"""The controlled failover probe (opt-in: --allow-failover). See probe.py for the flow.

Small modules, one job each: preflight (refuse unless safe), canary (app-like clients), trigger
(one failover, by the safest method), observe (Sentinel events, ROLE, cluster views), converge
(healthy again, read back, clean up), analysis (the numbers), aws (ElastiCache/MemoryDB).
"""

from redis_audit.failover.model import AwsTarget, Mode, Phase, PreflightRefused, ProbeAborted, ProbeOptions
from redis_audit.failover.probe import RESULT_SCHEMA, run_probe

__all__ = [
    "RESULT_SCHEMA",
    "AwsTarget",
    "Mode",
    "Phase",
    "PreflightRefused",
    "ProbeAborted",
    "ProbeOptions",
    "run_probe",
]
