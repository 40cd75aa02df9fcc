"""Finding check packs through the `redis_audit.checks` entry-point group, and choosing which may load.

A pack runs in this process: importing it runs its code, with the audit's credentials in memory and
the freedom to open its own sockets (the command guard covers the connections redis-audit opens, not
a pack's own). A third-party pack is code you trust. Each pack's digest is computed from its files
*before* it is imported, so `run --packs` can refuse an untrusted pack before any of its code runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from redis_audit.check import Check, CheckPack
from redis_audit.check_rules import CheckDefinitionError, function_name
from redis_audit.exitcodes import UsageError
from redis_audit.facts.names import FACT_NAMES

ENTRY_POINT_GROUP = "redis_audit.checks"
BUILTIN_DISTRIBUTION, BUILTIN_ENTRY_POINT = "redis-audit", "builtin"
ALL, BUILTIN = "all", "builtin"


class RegistryError(UsageError):
    """A pack that cannot be loaded, a check that breaks the check API, or two checks with one id: one line
    naming the pack and the check, exit 2, before anything is judged."""


class PackNotAllowed(UsageError):
    """An installed pack the run's --packs selection does not trust: refused before it is imported."""


@dataclass(frozen=True)
class LoadedPack:
    pack: CheckPack
    distribution: str  # the installed distribution that provides it
    version: str
    entry_point: str
    digest: str = ""  # package_digest of its top-level package, taken before the import
    package: str = ""  # that top-level package (or module)


@dataclass(frozen=True)
class InstalledPack:
    """An entry point of the group, described without importing it."""

    entry_point: EntryPoint
    distribution: str
    version: str
    package: str
    digest: str

    @property
    def name(self) -> str:
        return self.entry_point.name

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION and self.name == BUILTIN_ENTRY_POINT

    def describe(self) -> str:
        return f"{self.name} ({self.distribution} {self.version}, {self.digest})"


@dataclass(frozen=True)
class PackSelection:
    """`--packs`: every installed pack, the built-in pack only, or the built-in pack and trusted digests."""

    kind: str  # all | builtin | trusted
    trusted: frozenset[str] = frozenset()
    source: str = ""  # the trusted file, for messages

    @classmethod
    def parse(cls, spec: str) -> PackSelection:
        if spec in (ALL, BUILTIN):
            return cls(spec)
        from redis_audit.digests import read_digest_list
        from redis_audit.files import note_input

        note_input(Path(spec), "--packs")  # nothing the run writes may replace it
        return cls("trusted", read_digest_list(Path(spec), "--packs"), spec)


def package_digest(module: str) -> tuple[str, str]:
    """(top-level package, sha256 over the path and content of each of its files, `__pycache__` aside).

    Found with find_spec on the top-level name, which does not import it."""
    top = module.split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise RegistryError(f"check pack module {module!r} cannot be found")
    if spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        paths = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(root).parts)
    else:
        root, paths = Path(spec.origin).parent, [Path(spec.origin)]
    files = [{"path": p.relative_to(root).as_posix(), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in paths]
    canonical = json.dumps({"files": files}, sort_keys=True, separators=(",", ":"))
    return top, "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def installed_packs() -> list[InstalledPack]:
    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        package, digest = package_digest(ep.module)
        dist = ep.dist
        out.append(InstalledPack(ep, dist.name if dist else "?", dist.version if dist else "?", package, digest))
    return sorted(out, key=lambda p: (not p.builtin, p.name))


def _load(installed: InstalledPack) -> LoadedPack:
    ep = installed.entry_point
    try:
        obj = ep.load()
    except CheckDefinitionError as exc:  # raised by the pack's own decorators, while it was imported
        raise RegistryError(f"check pack {ep.name!r} ({installed.distribution} {installed.version}): "
                            f"{exc.check}: {exc.reason}") from None
    except Exception as exc:
        raise RegistryError(f"check pack {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, CheckPack):
        raise RegistryError(f"check pack {ep.name!r} ({ep.value}) is a {type(obj).__name__}, not a CheckPack")
    return LoadedPack(obj, installed.distribution, installed.version, ep.name, installed.digest, installed.package)


def choose_packs(selection: PackSelection) -> tuple[list[InstalledPack], list[InstalledPack]]:
    """(the packs to load, the packs left out), before importing any; PackNotAllowed for an installed
    pack that a trusted list does not name (a changed or unvetted pack must not silently run or vanish)."""
    chosen, left_out = [], []
    for pack in installed_packs():
        if pack.builtin or selection.kind == ALL or pack.digest in selection.trusted:
            chosen.append(pack)
        elif selection.kind == BUILTIN:
            left_out.append(pack)
        else:
            raise PackNotAllowed(f"--packs {selection.source}: check pack {pack.describe()} is not in the trusted "
                                 "list; add its digest after vetting it, or run with --packs builtin")
    return chosen, left_out


def load_packs(chosen: Iterable[InstalledPack]) -> list[LoadedPack]:
    """Import the chosen packs and check them as a whole: what each check needs is a fact some collector
    provides, no id is defined twice, every extension extends a loaded check."""
    packs = sorted((_load(p) for p in chosen), key=lambda p: (p.pack.name != "builtin", p.pack.name))
    for loaded in packs:
        check_needs(loaded, FACT_NAMES)
    all_checks(packs)
    return packs


def check_needs(loaded: LoadedPack, facts: frozenset[str]) -> None:
    """RegistryError for a check that needs a fact no collector provides: it could only ever SKIP."""
    for check in loaded.pack.checks:
        for fact in check.meta.needs:
            if fact not in facts:
                close = difflib.get_close_matches(fact, sorted(facts), 1)
                hint = f"; did you mean {close[0]!r}?" if close else " (the facts: redis_audit/facts/names.py)"
                raise RegistryError(f"{_describe(loaded)}: {check.label}: needs fact {fact!r}, which no collector "
                                    f"provides{hint}")


def _describe(loaded: LoadedPack) -> str:
    return f"check pack {loaded.entry_point!r} ({loaded.distribution} {loaded.version})"


def discover_packs(selection: PackSelection | None = None) -> list[LoadedPack]:
    return load_packs(choose_packs(selection or PackSelection(ALL))[0])


def all_checks(packs: Iterable[LoadedPack]) -> list[Check]:
    """Every check of every pack, with their extensions; two checks with one id is an error."""
    packs = list(packs)
    seen: dict[str, Check] = {}
    for loaded in packs:
        for check in loaded.pack.checks:
            if check.id in seen:
                raise RegistryError(f"{_describe(loaded)}: {check.label}: check id {check.id} is defined by both "
                                    f"pack {seen[check.id].source!r} and pack {check.source!r}")
            seen[check.id] = check
    for loaded in packs:
        for extension in loaded.pack.extensions:
            base = seen.get(extension.check_id)
            if base is None:
                raise RegistryError(f"{_describe(loaded)}: {function_name(extension.function)} extends check "
                                    f"{extension.check_id}, which no loaded pack defines")
            seen[base.id] = dataclasses.replace(base, extensions=(*base.extensions, extension))
    return sorted(seen.values(), key=lambda c: c.id)
