"""Key files and public-key verification: Ed25519 and ECDSA P-256, nothing else.

Private key material never reaches a log line or an exception message: errors name the file only.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from redis_audit.files import write_file
from redis_audit.signing.errors import KeyFileError

PublicKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
Algorithm = Literal["ed25519", "p256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ed25519", "p256")

PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"

log = logging.getLogger(__name__)


def keyid_for(public_key: PublicKey) -> str:
    """`sha256:` + hex sha256 of the DER SubjectPublicKeyInfo: stable, and the same for KMS exports."""
    return "sha256:" + hashlib.sha256(spki_der(public_key)).hexdigest()


_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def spki_der(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, _SPKI)


def public_key_pem(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, _SPKI)


def _is_supported(key: object) -> bool:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return True
    curve = getattr(key, "curve", None)
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(curve, ec.SECP256R1)


def _unsupported(source: str) -> KeyFileError:
    return KeyFileError(f"{source}: unsupported key type; use Ed25519 or ECDSA P-256")


def load_public_key_pem(data: bytes, source: str = "public key") -> PublicKey:
    return _load_public(serialization.load_pem_public_key, data, source, "a PEM public key")


def load_public_key_der(data: bytes, source: str = "public key") -> PublicKey:
    """A DER SubjectPublicKeyInfo, as KMS get_public_key returns it."""
    return _load_public(serialization.load_der_public_key, data, source, "a DER SubjectPublicKeyInfo")


def _load_public(loader: Callable[[bytes], object], data: bytes, source: str, expected: str) -> PublicKey:
    try:
        key = loader(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{source}: not {expected}") from None
    if isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) and _is_supported(key):
        return key
    raise _unsupported(source)


def load_public_key(path: Path) -> PublicKey:
    return load_public_key_pem(_read(path), str(path))


INSECURE_OPTION = "--insecure-key-permissions"


@dataclass(frozen=True)
class LoadedPrivateKey:
    key: PrivateKey
    warnings: tuple[str, ...]  # for the CLI to print, e.g. a key file readable by others
    insecure: bool = False  # loaded although group or others can access it (INSECURE_OPTION)


def load_private_key(path: Path, allow_insecure: bool = False) -> LoadedPrivateKey:
    """Load an unencrypted PEM private key. Like ssh, refuse one that group or others can access,
    unless `allow_insecure` (--insecure-key-permissions): then load it with a warning, and say so."""
    problem = _permission_problem(path)
    if problem and not allow_insecure:
        raise KeyFileError(f"{problem}; run chmod 600 {path} (or accept the risk with {INSECURE_OPTION})")
    warnings = (f"{problem}: signing anyway ({INSECURE_OPTION}); the report records it",) if problem else ()
    for warning in warnings:
        log.warning(warning)
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{path}: encrypted private keys are not supported") from None
    except (ValueError, UnsupportedAlgorithm):
        # Deliberately no detail from the parser: nothing derived from the key's bytes is shown.
        raise KeyFileError(f"{path}: not a PEM private key") from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) and _is_supported(key):
        return LoadedPrivateKey(key, warnings, insecure=bool(problem))
    raise _unsupported(str(path))


def _permission_problem(path: Path) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None  # _read reports the real problem
    if mode & 0o077 == 0:
        return None
    return f"private key {path} is accessible by group or others (mode {mode:04o})"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file ({exc.strerror})") from None


@dataclass(frozen=True)
class KeyPairPaths:
    private_key: Path
    public_key: Path


def generate_keypair(out_dir: Path, algorithm: Algorithm = "ed25519", allow_insecure: bool = False) -> KeyPairPaths:
    """Write a new private key (mode 0600) and its public key, atomically; never overwrite.

    A directory anyone may write to (world-writable without the sticky bit, which would keep others
    from renaming or deleting our files) is refused unless `allow_insecure`: another user could
    replace the key, or plant a link where it goes.
    """
    private_key = _new_private_key(algorithm)
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise KeyFileError(f"{out_dir}: cannot create the key directory ({exc.strerror})") from None
    problem = _directory_problem(out_dir)
    if problem and not allow_insecure:
        raise KeyFileError(f"{problem}; use a private directory (or accept the risk with {INSECURE_OPTION})")
    paths = KeyPairPaths(out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE)
    for path in (paths.private_key, paths.public_key):
        if path.exists() or path.is_symlink():
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key")
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_file(paths.private_key, private_pem, what="--output-dir", mode=0o600, exclusive=True)
    try:
        write_file(paths.public_key, public_key_pem(private_key.public_key()), what="--output-dir", mode=0o644,
                   exclusive=True)
    except BaseException:
        paths.private_key.unlink()  # no half-written pair left behind
        raise
    return paths


def _directory_problem(directory: Path) -> str | None:
    mode = directory.stat().st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        return f"{directory} is writable by anyone (mode {stat.S_IMODE(mode):04o}, no sticky bit)"
    return None


def _new_private_key(algorithm: Algorithm) -> PrivateKey:
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyFileError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")


@dataclass(frozen=True)
class Verifier:
    """A pinned public key that checks DSSE signatures (ECDSA: ASN.1 DER over SHA-256)."""

    public_key: PublicKey

    @property
    def keyid(self) -> str:
        return keyid_for(self.public_key)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(signature, message)
            else:
                self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True
