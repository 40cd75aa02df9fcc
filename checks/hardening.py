"""SEC: dangerous configuration surfaces are closed, and the engine version is supported."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext
from redis_audit.facts.versions import parse_version
from redis_audit.jsonvalue import JsonObject, as_object
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import FactError, FactErrorKind, FactUnavailable, NodeSnapshot
from redis_audit.topology import Role

from .pack import PACK

PROTECTED = ("enable-protected-configs", "enable-debug-command", "enable-module-command")


@PACK.check(
    id="SEC-001",
    title="Protected configs, DEBUG and MODULE are blocked",
    severity=Severity.HIGH,
    category="hardening",
    verifies="On 7.0+: enable-protected-configs, enable-debug-command and enable-module-command are 'no' or "
    "'local' (CONFIG GET). Before 7.0 these switches do not exist: COMMAND INFO must not know DEBUG (renamed "
    "away); CONFIG or MODULE still under their names WARN.",
    risk="With protected configs writable, a client can CONFIG SET dir/dbfilename and write files on the host "
    "(the known Redis takeover); DEBUG and MODULE LOAD run arbitrary code or crash the server.",
    remediation="Leave enable-protected-configs, enable-debug-command and enable-module-command at no (or local) "
    "in redis.conf; before 7.0, rename-command DEBUG \"\" and restrict CONFIG by ACL.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/security/",),
    needs=("config", "info", "command.info"),
)
def dangerous_surfaces_blocked(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    if node.version() >= (7, 0, 0):
        values = {name: node.config(name) for name in PROTECTED}
        observed: JsonObject = dict(values)
        open_ = sorted(name for name, value in values.items() if value == "yes")
        if open_:
            yield ctx.failed(node, f"{', '.join(open_)} is yes", observed=observed,
                             expected=dict.fromkeys(PROTECTED, "no or local"))
        else:
            yield ctx.passed(node, "protected configs, DEBUG and MODULE are blocked", observed=observed,
                             expected=dict.fromkeys(PROTECTED, "no or local"))
        return
    present = as_object(node.fact("command.info"))
    observed = {"version": ".".join(map(str, node.version())), "commandsUnderTheirNames": dict(present)}
    if present.get("debug"):
        yield ctx.failed(node, "DEBUG is available (before 7.0 nothing but rename-command blocks it)",
                         observed=observed, expected={"debug": False})
    elif present.get("config") or present.get("module"):
        yield ctx.warned(node, "CONFIG/MODULE keep their names: only ACLs keep clients from them",
                         observed=observed, expected={"config": False, "module": False})
    else:
        yield ctx.passed(node, "DEBUG, CONFIG and MODULE are renamed away", observed=observed)


def _engine(node: NodeSnapshot) -> str:
    name = node.info("server", "server_name")
    if name:
        return name.lower()
    return "valkey" if node.info("server", "valkey_version") else "redis"


@PACK.check(
    id="SEC-002",
    title="The engine version is supported and at the organisation's baseline",
    severity=Severity.HIGH,
    category="hardening",
    verifies="INFO server (server_name, valkey_version or redis_version): FAIL below "
    "security.engine_min_version (6.0: no ACL, no TLS); WARN below security.engine_baselines for the engine "
    "(redis 7.0, valkey 7.2 by default). The baseline is the organisation's decision, hence a profile setting.",
    risk="An engine below 6.0 has no ACLs or TLS; an old release misses security fixes and the settings "
    "other checks rely on.",
    remediation="Upgrade to a supported release of the engine (a current Redis 7.x or Valkey 8/9).",
    references=("https://redis.io/docs/latest/operate/rs/installing-upgrading/product-lifecycle/",),
    needs=("info",),
    roles=frozenset(Role),
)
def engine_supported(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    version = node.version()
    if version == (0, 0, 0):
        raise FactUnavailable("info", _unknown_version())
    engine = _engine(node)
    text = ".".join(map(str, version))
    minimum = parse_version(ctx.profile.security.engine_min_version) or (6, 0, 0)
    baseline_text = ctx.profile.security.engine_baselines.get(engine)
    baseline = parse_version(baseline_text) if baseline_text else None
    observed: JsonObject = {"engine": engine, "version": text}
    expected: JsonObject = {"minimum": ctx.profile.security.engine_min_version, "baseline": baseline_text}
    if version < minimum:
        yield ctx.failed(node, f"{engine} {text} is below {ctx.profile.security.engine_min_version}",
                         observed=observed, expected=expected)
    elif baseline is not None and version < baseline:
        yield ctx.warned(node, f"{engine} {text} is below the baseline {baseline_text}", observed=observed,
                         expected=expected)
    else:
        yield ctx.passed(node, f"{engine} {text}", observed=observed, expected=expected)


def _unknown_version() -> FactError:
    return FactError(FactErrorKind.ERROR, "info", "INFO server reports no redis_version or valkey_version")
