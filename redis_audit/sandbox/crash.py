"""The sandbox's processes for the failover probe's crash-sim.

They have the shape of `failover.model.CrashSim` and `CrashableProcess`; the sandbox does not import
the probe, nor the probe the sandbox: the CLI (`probe failover --sandbox-state DIR`) and the tests
hand one to the other.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from redis_audit.sandbox.core import Sandbox
from redis_audit.sandbox.model import SandboxNode
from redis_audit.topology import Address


@dataclass
class SandboxProcess:
    sandbox: Sandbox
    node: SandboxNode

    @property
    def pid(self) -> int:
        return self.node.pid

    @property
    def address(self) -> str:
        return self.node.address

    def signal(self, sig: signal.Signals) -> None:
        self.sandbox.signal_node(self.node, sig)

    def restart(self) -> None:
        self.sandbox.start_node(self.node)


@dataclass(frozen=True)
class SandboxCrashSim:
    """The running nodes of the sandbox whose state is in `state_dir`."""

    state_dir: Path

    @property
    def where(self) -> str:
        return f"the sandbox in {self.state_dir}"

    def process(self, address: Address) -> SandboxProcess | None:
        sandbox = Sandbox.load(self.state_dir)  # read when the probe needs it: the PIDs as they are now
        for node in sandbox.info.nodes:
            if node.host == address.host and node.port == address.port:
                return SandboxProcess(sandbox, node) if sandbox.is_running() else None
        return None
