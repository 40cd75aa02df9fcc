"""Finding check packs through the `redis_audit.checks` entry-point group."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from redis_audit.check import Check, CheckPack

ENTRY_POINT_GROUP = "redis_audit.checks"


class RegistryError(Exception):
    """A pack that cannot be loaded, or two checks with one id."""


@dataclass(frozen=True)
class LoadedPack:
    pack: CheckPack
    distribution: str  # the installed distribution that provides it
    version: str
    entry_point: str


def _load(ep: EntryPoint) -> LoadedPack:
    try:
        obj = ep.load()
    except Exception as exc:
        raise RegistryError(f"check pack {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, CheckPack):
        raise RegistryError(f"check pack {ep.name!r} ({ep.value}) is a {type(obj).__name__}, not a CheckPack")
    dist = ep.dist
    return LoadedPack(obj, dist.name if dist else "?", dist.version if dist else "?", ep.name)


def discover_packs() -> list[LoadedPack]:
    packs = [_load(ep) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(packs, key=lambda p: (p.pack.name != "builtin", p.pack.name))


def all_checks(packs: Iterable[LoadedPack]) -> list[Check]:
    """Every check of every pack, with their extensions; two checks with one id is an error."""
    packs = list(packs)
    seen: dict[str, Check] = {}
    for loaded in packs:
        for check in loaded.pack.checks:
            if check.id in seen:
                raise RegistryError(
                    f"check id {check.id} is defined by both pack {seen[check.id].source!r} "
                    f"and pack {check.source!r}"
                )
            seen[check.id] = check
    for loaded in packs:
        for extension in loaded.pack.extensions:
            base = seen.get(extension.check_id)
            if base is None:
                raise RegistryError(
                    f"pack {loaded.pack.name!r} extends check {extension.check_id}, which no pack defines"
                )
            seen[base.id] = dataclasses.replace(base, extensions=(*base.extensions, extension))
    return sorted(seen.values(), key=lambda c: c.id)
