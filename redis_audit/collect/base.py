"""The collector interface, and the session through which collectors talk to one node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import redis
from redis import exceptions as rexc

from redis_audit.client import Timeouts, open_client
from redis_audit.deadline import Deadline as Deadline  # re-exported: collectors take the run's Deadline
from redis_audit.deadline import DeadlineExceeded as DeadlineExceeded
from redis_audit.guard import CommandNotAllowed, command_key
from redis_audit.jsonvalue import JsonValue
from redis_audit.replies import ReplyRefused, command_text
from redis_audit.secret import scrub
from redis_audit.snapshot import NO_PASSWORD, Fact, FactError, FactErrorKind
from redis_audit.target import Credentials, Target, TlsOptions
from redis_audit.topology import Address, Node, Role, Topology

if TYPE_CHECKING:
    from redis_audit.profile import Profile


AUTH_FAILED = "authentication failed"


def classify_error(exc: BaseException, command: str) -> FactError:
    """Turn a client exception into the reason a fact is unavailable."""
    message = scrub(exc)
    if isinstance(exc, ReplyRefused):  # the server's reply broke the protocol or its limit
        return FactError(FactErrorKind.ERROR, command, message)
    if isinstance(exc, DeadlineExceeded):
        return FactError(FactErrorKind.TIMEOUT, command, message)
    if isinstance(exc, CommandNotAllowed):
        return FactError(FactErrorKind.DENIED, command, f"blocked by the {exc.policy} guard")
    if isinstance(exc, rexc.NoPermissionError) or message.startswith("NOPERM") or "no permissions" in message:
        return FactError(FactErrorKind.DENIED, command, message)
    if isinstance(exc, rexc.AuthenticationError | rexc.AuthenticationWrongNumberOfArgsError):
        return FactError(FactErrorKind.DENIED, command, f"{AUTH_FAILED}: {message}")
    lowered = message.lower()
    if "unknown subcommand" in lowered or "unknown argument" in lowered or "wrong number of arguments" in lowered:
        return FactError(FactErrorKind.UNSUPPORTED, command, message)
    if "unknown command" in lowered:
        # Renamed away (rename-command, managed services) or not in this version.
        return FactError(FactErrorKind.DENIED, command, f"{message} (renamed, disabled or unknown)")
    if isinstance(exc, rexc.TimeoutError | TimeoutError):
        return FactError(FactErrorKind.TIMEOUT, command, message)
    if isinstance(exc, rexc.ConnectionError | OSError):
        return FactError(FactErrorKind.UNREACHABLE, command, message)
    return FactError(FactErrorKind.ERROR, command, f"{type(exc).__name__}: {message}")


@dataclass
class NodeSession:
    """One node, one guarded client, and the run's deadline."""

    node: Node
    client: redis.Redis
    deadline: Deadline
    tls: TlsOptions
    credentials: Credentials
    timeouts: Timeouts
    # Facts gathered so far on this node, so a later collector reuses INFO or CONFIG instead of asking again.
    facts: dict[str, Fact] = field(default_factory=dict)
    doing: str = "connecting"  # what is under way, for the message should the deadline expire
    # Why the node cannot be audited any further: a reply refused (malformed, too large), or the
    # connection lost in the middle of the audit. Set by call(); the runner stops the node on it.
    broken: str | None = None
    answered: bool = False  # the node has answered a command of this session

    def known(self, name: str) -> JsonValue:
        """A fact an earlier collector gathered on this node, or None when it is missing or failed."""
        fact = self.facts.get(name)
        return fact.value if fact is not None and fact.ok else None

    def call(self, *args: Any) -> Any:
        """Run one command; raises the client's exceptions (see attempt())."""
        self.doing = command_text(command_key(args))
        self.deadline.check(f"{self.doing} on {self.node.address}")
        try:
            reply = self.client.execute_command(*args)
        except ReplyRefused as exc:
            self.broken = self.broken or scrub(exc)  # the first reason: later ones follow from it
            raise
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            # Lost, or silent, after the node had answered: what it would say next cannot be trusted to
            # describe it (a refused password is no such thing: it is a fact of its own).
            if self.answered and not isinstance(exc, rexc.AuthenticationError):
                lost = "stopped answering" if isinstance(exc, rexc.TimeoutError | TimeoutError) else "connection lost"
                self.broken = self.broken or f"{lost} during {self.doing}: {scrub(exc)}"
            raise
        self.answered = True
        return reply

    def attempt(self, parse: Callable[[Any], JsonValue], *args: Any) -> Fact:
        """Run one command and parse its reply into a fact; any failure becomes the fact's error."""
        command = command_key(args)
        try:
            return Fact(value=parse(self.call(*args)))
        except Exception as exc:  # every failure is data: the check will SKIP or ERROR with it
            return Fact(error=classify_error(exc, command))

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class CollectContext:
    target: Target
    topology: Topology
    profile: Profile
    timeouts: Timeouts = field(default_factory=Timeouts)


class Declared(Protocol):
    """What a collector sends to which nodes, and the facts it stores.

    `acl suggest` derives the auditor's ACL from these, for the facts the registered checks need.
    """

    name: str
    roles: frozenset[Role]
    commands: tuple[str, ...]  # allowlist keys such as "config|get"
    provides: tuple[str, ...]


class Collector(Declared, Protocol):
    """Gathers facts from one node. Implementations live beside this module."""

    def applies(self, session: NodeSession, ctx: CollectContext) -> bool: ...

    def collect(self, session: NodeSession, ctx: CollectContext) -> dict[str, Fact]: ...


def answers_without_password(address: Address, tls: TlsOptions, timeouts: Timeouts,
                             deadline: Deadline | None = None) -> str | None:
    """The reply to a PING sent with no credentials at all, when the server answers it; else None."""
    client = open_client(address, tls=tls, credentials=Credentials(), timeouts=timeouts, deadline=deadline)
    try:
        return str(client.execute_command("PING"))
    except Exception:  # NOAUTH, NOPERM, a closed connection: it does not let an anonymous client in
        return None
    finally:
        client.close()


def open_session(node: Node, ctx: CollectContext, deadline: Deadline) -> NodeSession:
    """A session on one node. When the server refuses the credentials because it has no password at all
    (or no such user, while the default user needs none), the node is audited unauthenticated, read-only as
    always, and the fact NO_PASSWORD says so: an open server is the finding, never an inconclusive run."""
    credentials = ctx.target.sentinel_credentials if node.role is Role.SENTINEL else ctx.target.credentials
    timeouts = deadline.timeouts(ctx.timeouts)
    client = open_client(node.address, tls=ctx.target.tls, credentials=credentials, timeouts=timeouts,
                         deadline=deadline)
    if credentials.user is None and credentials.password is None:
        return NodeSession(node, client, deadline, ctx.target.tls, credentials, timeouts)
    try:  # connect (and AUTH) now: the refusal must be told apart from a server that needs no password
        client.connection_pool.release(client.connection_pool.get_connection())
    except rexc.AuthenticationError as exc:
        client.close()
        reply = answers_without_password(node.address, ctx.target.tls, timeouts, deadline)
        if reply is None:
            raise
        anonymous = open_client(node.address, tls=ctx.target.tls, credentials=Credentials(), timeouts=timeouts,
                                deadline=deadline)
        session = NodeSession(node, anonymous, deadline, ctx.target.tls, Credentials(), timeouts)
        session.facts[NO_PASSWORD] = Fact(value={"credentialsRefused": scrub(exc), "unauthenticatedPing": reply})
        return session
    except (rexc.ConnectionError, rexc.TimeoutError, OSError):
        client.close()
        raise  # unreachable: the runner records why
    except Exception:  # anything else, the first command reports as that command's fact
        pass
    return NodeSession(node, client, deadline, ctx.target.tls, credentials, timeouts)


class DeploymentCollector(Protocol):
    """Gathers run-wide facts (control plane, probes from this host) into Snapshot.deployment_facts."""

    name: str
    provides: tuple[str, ...]  # the deployment facts it may store

    def applies(self, ctx: CollectContext) -> bool: ...

    def collect(self, ctx: CollectContext, deadline: Deadline) -> dict[str, Fact]: ...
