"""Signed reports on the command line: signing a run, verifying an envelope file, rendering it.

`verify`, `render` and `diff` all go through `verify_file`: signatures over the exact payload, types,
subject, validity, and the verdict recomputed from the findings, profile and waivers in the payload.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from redis_audit.acceptance import Acceptance, NotAccepted, parse_duration
from redis_audit.digests import normalise, read_digest_list
from redis_audit.exitcodes import UsageError
from redis_audit.files import write_file
from redis_audit.jsonvalue import JsonObject
from redis_audit.output import RenderOptions, SignedContext, SourceFile, renderers
from redis_audit.output.asff import AsffAccount
from redis_audit.output.view import View
from redis_audit.profile import MODES
from redis_audit.recompute import recompute_decision
from redis_audit.signing.dsse import MAX_ENVELOPE_BYTES
from redis_audit.signing.errors import InvalidReport
from redis_audit.signing.keys import PublicKey, keyid_for, load_public_key
from redis_audit.signing.verify import VerifiedStatement, verify_envelope
from redis_audit.waivers import parse_rfc3339

FC = TypeVar("FC", bound=Callable[..., Any])


def subject_name(deployment: str) -> str:
    """The statement's subject name: `redis://NAME`, or the target URL itself."""
    return deployment if "://" in deployment else f"redis://{deployment}"


@dataclass(frozen=True)
class PinnedKey:
    path: Path
    key: PublicKey

    @property
    def keyid(self) -> str:
        return keyid_for(self.key)

    @property
    def label(self) -> str:
        return f"{self.path.name} ({self.keyid[:19]}…)"


def load_keys(paths: Sequence[Path]) -> list[PinnedKey]:
    if not paths:
        raise UsageError("give the trusted public key(s) with --key PUB.pem")
    return [PinnedKey(p, load_public_key(p)) for p in paths]


def read_envelope(path: Path) -> bytes:
    """The envelope file's bytes; one larger than any report could be is refused unread."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ENVELOPE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_ENVELOPE_BYTES:
        raise InvalidReport(f"{path}: invalid report: larger than {MAX_ENVELOPE_BYTES // (1024 * 1024)} MiB")
    return data


@dataclass(frozen=True)
class Verified:
    path: Path
    statement: VerifiedStatement
    context: SignedContext

    @property
    def report(self) -> JsonObject:
        return self.statement.predicate


def verify_file(path: Path, keys: Sequence[PinnedKey], threshold: int = 1, expect_target: str | None = None,
                at: dt.datetime | None = None, enforce_expiry: bool = True,
                acceptance: Acceptance | None = None) -> Verified:
    """Verify the envelope in `path`; InvalidReport (exit 5) names the file and the one-line reason.

    enforce_expiry=False verifies a report as of its own issue time (diff's OLD report, which is
    usually past its validUntil); everything else is still checked. `acceptance` is the relying
    party's policy, checked on the verified report (NotAccepted, exit 5).
    """
    data = read_envelope(path)
    if not enforce_expiry:
        at = _issued_at(data)
    try:
        statement = verify_envelope(data, [k.key for k in keys], threshold,
                                    subject_name(expect_target) if expect_target else None, at,
                                    recompute_decision)
    except InvalidReport as exc:
        raise InvalidReport(f"{path}: invalid report: {exc.reason}") from None
    if acceptance is not None:
        try:
            acceptance.check(statement.predicate, at or dt.datetime.now(dt.UTC))
        except NotAccepted as exc:
            raise NotAccepted(f"{path}: valid, but not accepted: {exc.reason}") from None
    return Verified(path, statement, signed_context(data, statement, keys, path))


def _issued_at(data: bytes) -> dt.datetime | None:
    """The run's finishedAt, read before verification only to choose the time to verify at.

    Safe: if the payload was edited, the signature check fails before this time matters."""
    try:
        payload = json.loads(base64.b64decode(json.loads(data)["payload"]))
        return parse_rfc3339(payload["predicate"]["run"]["finishedAt"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # verify_envelope reports what is wrong


def signed_context(envelope: bytes, statement: VerifiedStatement, keys: Sequence[PinnedKey],
                   path: Path) -> SignedContext:
    """The rendering's view of the signatures; its verify command requires every key that signed."""
    signers = [k for k in keys if k.keyid in statement.signer_keyids]
    return SignedContext(envelope, statement.envelope_sha256, tuple(k.label for k in signers),
                         statement.statement.to_json(),
                         verify_command(path, [k.path for k in signers], len(signers)))


def verify_command(path: Path, keys: Sequence[Path], threshold: int = 1) -> str:
    words = ["redis-audit", "verify", str(path)]
    for key in keys:
        words += ["--key", str(key)]
    if threshold > 1:
        words += ["--threshold", str(threshold)]
    return shlex.join(words)


def render(report: JsonObject, output_format: str, *, only_attention: bool = False, color: bool = False,
           signed: SignedContext | None = None, asff: AsffAccount | None = None,
           source: SourceFile | None = None) -> str:
    return renderers()[output_format](report, RenderOptions(only_attention, color, signed, asff, source))


def sarif_location_option(command: FC) -> FC:
    return click.option("--sarif-location", type=click.Path(path_type=Path), metavar="FILE",
                        help="SARIF: the file in your repository that results point at, at the deployment's line "
                             "(your profile or fleet inventory). Default: see README, Gating in CI.")(command)


def source_file(candidates: Sequence[Path | None], deployment: str) -> SourceFile | None:
    """Where SARIF results point: the first candidate given, relative to the working directory (the
    repository root in CI), at the first line that names the deployment (line 1 if none does)."""
    path = next((c for c in candidates if c is not None), None)
    if path is None:
        return None
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        relative = path.as_posix()
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    line = next((n for n, text in enumerate(lines, 1) if deployment and deployment in text), 1)
    return SourceFile(relative, line)


def parse_at(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at: {value!r} is not an RFC 3339 time such as 2026-05-04T10:00:00Z") from None
    if moment.tzinfo is None:
        raise UsageError("--at: give a time zone, e.g. 2026-05-04T10:00:00Z")
    return moment


def verify_options(command: FC) -> FC:
    """--key, --threshold, --expect-target and --at, shared by verify, render and diff."""
    options = [
        click.option("--key", "keys", multiple=True, required=True, type=click.Path(path_type=Path),
                     help="A trusted public key (PEM); repeat for several."),
        click.option("--threshold", type=click.IntRange(min=1), default=1, show_default=True,
                     help="How many distinct trusted keys must have signed."),
        click.option("--expect-target", metavar="NAME", help="Refuse a report about another deployment."),
        click.option("--at", "at", metavar="TIME", help="Check validity at this RFC 3339 time instead of now "
                     "(auditing an old report)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


ACCEPTANCE_OPTIONS = ("max_age", "require_live", "require_profile_digest", "trusted_profiles", "max_validity",
                      "require_mode", "trusted_packs")


def acceptance_options(command: FC) -> FC:
    """The relying party's policy, shared by verify, render and diff (diff applies it to NEW)."""
    options = [
        click.option("--max-age", metavar="DURATION", help="Refuse a report whose evidence was collected longer "
                     "ago than this (90m, 24h, 7d), at --at or now."),
        click.option("--require-live", is_flag=True, help="Refuse a report judged offline from a snapshot."),
        click.option("--require-profile-digest", metavar="SHA256", multiple=True,
                     help="Accept only a report judged by a profile with this digest (repeatable)."),
        click.option("--trusted-profiles", type=click.Path(path_type=Path), metavar="FILE",
                     help="Accept only profiles whose digest this file lists (one sha256:HEX per line)."),
        click.option("--max-validity", metavar="DURATION", help="Refuse a report valid for longer than this "
                     "after its collection."),
        click.option("--require-mode", type=click.Choice(MODES), help="Accept only a report of this run mode."),
        click.option("--trusted-packs", type=click.Path(path_type=Path), metavar="FILE",
                     help="Accept only reports whose every check pack's digest this file lists "
                          "(`redis-audit checks packs` prints them)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def pop_acceptance(kwargs: dict[str, Any]) -> Acceptance:
    values = {name: kwargs.pop(name, None) for name in ACCEPTANCE_OPTIONS}
    profiles: set[str] | None = None
    if values["require_profile_digest"] or values["trusted_profiles"]:
        profiles = {normalise(d, "--require-profile-digest") for d in values["require_profile_digest"] or ()}
        if values["trusted_profiles"]:
            profiles |= read_digest_list(values["trusted_profiles"], "--trusted-profiles")
    return Acceptance(
        max_age=parse_duration(values["max_age"], "--max-age") if values["max_age"] else None,
        require_live=bool(values["require_live"]),
        profile_digests=frozenset(profiles) if profiles is not None else None,
        max_validity=parse_duration(values["max_validity"], "--max-validity") if values["max_validity"] else None,
        require_mode=values["require_mode"],
        pack_digests=read_digest_list(values["trusted_packs"], "--trusted-packs") if values["trusted_packs"] else None,
    )


def sign_throwaway(report: Any, envelope: Path) -> tuple[Verified, list[str]]:
    """For `redis-audit demo`: sign with a key generated in a temporary directory, write the envelope and
    the public key next to it (`<envelope>.pub.pem`), verify it as `verify` would, and return what to print.

    `report` is a redis_audit.report.Report. The private key never leaves the temporary directory."""
    import tempfile

    from redis_audit.report import target_name
    from redis_audit.signing.keys import generate_keypair
    from redis_audit.signing.sign import sign_report
    from redis_audit.signing.signers import LocalSigner

    with tempfile.TemporaryDirectory(prefix="redis-audit-key-") as temp:
        pair = generate_keypair(Path(temp))
        signer = LocalSigner.from_file(pair.private_key)
        data = sign_report(report.to_json(), subject_name(target_name(report.snapshot)), [signer]).to_bytes()
        public = envelope.with_name(envelope.name.removesuffix(".json").removesuffix(".dsse") + ".pub.pem")
        write_file(envelope, data, what="--output")
        write_file(public, pair.public_key.read_bytes(), what="--output")
    verified = verify_file(envelope, load_keys([public]))
    command = verify_command(envelope, [public])
    return verified, [f"Signed report written to {envelope} (public key {public}, throwaway)",
            f"Verified: {View(verified.report).decision}, envelope sha256:{verified.context.envelope_sha256}",
            f"Verify it yourself: {command}",
            f"Render it: {command.replace(' verify ', ' render ', 1)} --format markdown"]
