"""Real local deployments (redis-server / valkey-server on loopback) for the demo and the tests.

sb = Sandbox.up(SandboxSpec(topology="sentinel", tls=True), state_dir)
try:
    ... sb.info.target_url, sb.password("auditor"), sb.admin_client(node) ...
finally:
    sb.down()
"""

from redis_audit.sandbox.binaries import find_server_binary
from redis_audit.sandbox.certs import make_certificate
from redis_audit.sandbox.core import Sandbox
from redis_audit.sandbox.model import SandboxError, SandboxInfo, SandboxNode, SandboxSpec
from redis_audit.sandbox.target import sandbox_cli_args, sandbox_target

__all__ = [
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "SandboxNode",
    "SandboxSpec",
    "find_server_binary",
    "make_certificate",
    "sandbox_cli_args",
    "sandbox_target",
]
