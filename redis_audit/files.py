"""Every file the tool writes goes through here: atomically, never through a symbolic link, and never
onto a file the same run reads.

A report written with `--output` used to follow a symlink and overwrite its target, and `--output`
naming the signing key replaced the private key with the envelope. Here a file is written to a
temporary file in the same directory, flushed to disk and renamed over the destination, so a reader
sees the old file or the new one, never half of one; a destination that is a symbolic link is refused
(the rename would replace the link, not follow it, but a link where a report should go is a mistake or
an attack); and a destination that is one of the run's inputs — compared by resolved path and by
device and inode, so a hard link or a second spelling is caught too — is refused.

The run's inputs are every file option of the command line (any `click.Path` parameter other than
the one being written), plus the files readers note with `note_input` (a signing key named by
`--sign-with`, the public key found next to it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redis_audit.exitcodes import UsageError


@dataclass(frozen=True)
class FileId:
    """Where a file is: its resolved path, and (when it exists) its device and inode."""

    path: Path
    device: int | None
    inode: int | None

    @classmethod
    def of(cls, path: Path) -> FileId:
        try:
            info = path.stat()
        except OSError:
            return cls(_resolved(path), None, None)
        return cls(_resolved(path), info.st_dev, info.st_ino)

    def same_file(self, other: FileId) -> bool:
        if self.inode is not None and (self.device, self.inode) == (other.device, other.inode):
            return True
        return self.path == other.path


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as spelled
        return path.absolute()


_noted: list[tuple[str, FileId]] = []


def note_input(path: Path, what: str) -> None:
    """Record a file this run reads that no file option names (e.g. the key behind --sign-with)."""
    _noted.append((what, FileId.of(path)))


def reset() -> None:
    """Forget the noted inputs: each command-line invocation starts afresh."""
    _noted.clear()


def check_destination(path: Path, what: str) -> None:
    """Refuse, in one line (exit 2), a destination that is a symlink, a directory or an input of the run.

    Called before the work (a run that cannot write its report does not start) and again when writing.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"{what}: cannot write {path}: {exc.strerror}") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{what}: {path} is a symbolic link; refusing to write through it")
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{what}: {path} is a directory")
    destination = FileId.of(path) if info is None else FileId(_resolved(path), info.st_dev, info.st_ino)
    for source, identity in _inputs(what):
        if destination.same_file(identity):
            raise UsageError(f"{what}: {path} is also {source} of this run; refusing to overwrite it")


def write_file(path: Path, data: bytes | str, *, what: str, mode: int | None = None,
               exclusive: bool = False) -> None:
    """Write `data` to `path` atomically (temporary file in the same directory, fsync, rename).

    mode: the new file's permissions (default: the replaced file's, else 0666 less the umask);
    exclusive: never replace an existing file (signing keys). Errors are UsageError (exit 2) naming
    `what` (the option, e.g. "--output") and the path.
    """
    check_destination(path, what)
    content = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{what}: cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode if mode is not None else _mode_for(path))
        if exclusive:
            os.link(temporary, path)  # fails if anything (a file, a link) is already there
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
        _sync_directory(directory)
    except FileExistsError:
        raise UsageError(f"{what}: {path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def open_log(path: Path) -> int:
    """A file descriptor appending to a log file: created 0600, never through a symbolic link."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot open the log {path}: {exc.strerror}") from None


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _inputs(what: str) -> list[tuple[str, FileId]]:
    return [*_command_line_files(what), *_noted]


def _command_line_files(what: str) -> list[tuple[str, FileId]]:
    """Every file parameter of the command being run (and of its parent groups), but `what` itself."""
    import click

    found: list[tuple[str, FileId]] = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        for param in ctx.command.params:
            if not isinstance(param.type, click.Path) or what in param.opts:
                continue
            value = ctx.params.get(param.name or "")
            values = value if isinstance(value, tuple | list) else (value,)
            label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
            found += [(label, FileId.of(Path(v))) for v in values if isinstance(v, str | os.PathLike)]
        ctx = ctx.parent
    return found
