"""File output that loses nothing: atomic writes, output folders checked up front, one writer per folder.

* :func:`atomic_path` writes to a temporary file beside the target, then renames it over the target: a crash or
  a kill mid-write leaves the previous good file in place, never a half-written one. Files get mode ``0o666``
  filtered by the user's umask, like any other program's output (not owner-only), also when the writer replaced
  the temporary file with one of its own (safetensors does, mode 0600).
* :func:`output_dir` makes an output folder or says in one line why it cannot (a file is in the way, no write
  permission, a read-only file system).
* :func:`exclusive_lock` lets one process at a time write a folder (``fcntl.flock``: the kernel drops the lock
  when its holder exits or is killed, so a crash cannot leave it stuck).
* :func:`user_cache_dir` is where derived files go when the folder they belong to cannot be written.
* :func:`existing_folder` checks an input folder up front: one that is not there is named by its absolute path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gtloc.errors import GtlocError

LOCK_FILE = ".gtloc.lock"
CACHE_ENV = "GTLOC_CACHE"
_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR)


class OutputPathError(GtlocError):
    """An output file or folder that cannot be written: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")


class FolderBusyError(GtlocError):
    """Another process holds the folder's write lock (see :func:`exclusive_lock`)."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its parents) if needed; ``OutputPathError`` if that is impossible."""
    folder = Path(path)
    for above in (folder, *folder.parents):
        if above.exists() and not above.is_dir():
            raise OutputPathError(folder, f"{above} is an existing file, not a folder")
        if above.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(folder, _why(exc)) from None
    return folder


def existing_folder(path: str | os.PathLike[str], what: str, source: str | None = None) -> Path:
    """``path`` if it is a folder; else ``GtlocError`` naming ``what`` it should be and the absolute path tried
    (a relative path is resolved against the current folder, which is what a user most often gets wrong).
    ``source`` says where ``path`` came from (``"$GTLOC_CHECKPOINT"``)."""
    folder = Path(path)
    if folder.is_dir():
        return folder
    tried = folder.absolute()
    origin = [f"{source}={folder}"] if source else []
    if str(tried) != str(folder):
        origin.append(f"relative to {Path.cwd()}")
    where = f" ({', '.join(origin)})" if origin else ""
    if folder.exists():
        raise GtlocError(f"{what} {tried} is a file, not a folder{where}")
    raise GtlocError(f"no such {what}: {tried} does not exist{where}")


def output_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file that can be written: its folder is made if needed; ``OutputPathError`` when ``path`` is a
    folder or its folder cannot be made (so a long job can check its output before it starts)."""
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(target, "it is an existing folder, not a file")
    try:
        output_dir(target.parent)
    except OutputPathError as exc:
        raise OutputPathError(target, exc.reason) from None
    return target


def _new_temp(target: Path) -> Path:
    """Create an empty, uniquely named file beside ``target`` (mode 0o666 & ~umask) and return its path."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputPathError(target, _why(exc)) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it is renamed to ``path``.

    Raises ``OutputPathError`` when the folder cannot be made or written, or ``path`` is a folder.
    """
    target = output_file(path)
    tmp_path = _new_temp(target)
    mode = tmp_path.stat().st_mode & 0o777  # 0o666 & ~umask, without touching the process-wide umask
    try:
        try:
            yield tmp_path
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS:
                raise OutputPathError(target, _why(exc)) from None
            raise
        try:
            # A writer that replaces the file it is given (safetensors writes through its own private temp file)
            # leaves it 0o600: give it back the umask's mode before it becomes the target.
            if tmp_path.stat().st_mode & 0o777 != mode:
                os.chmod(tmp_path, mode)
            os.replace(tmp_path, target)
        except OSError as exc:
            raise OutputPathError(target, _why(exc)) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def exclusive_lock(folder: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold ``folder``'s write lock while the block runs (the folder is created); yields the folder.

    A second process asking for the same folder gets ``FolderBusyError`` naming the holder, at once, instead of
    both writing and one losing the other's work. ``what`` names the work in that message ("features").
    """
    root = output_dir(folder)
    lock = root / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputPathError(lock, _why(exc)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            raise FolderBusyError(
                f"{root} is being written by another gtloc run ({holder}), which holds {lock}; wait for it to "
                f"finish or use another folder (two runs writing {what} into one folder would lose work)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        yield root
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def user_cache_dir() -> Path:
    """gtloc's cache folder: ``$GTLOC_CACHE`` if set, else ``$XDG_CACHE_HOME/gtloc`` or ``~/.cache/gtloc``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gtloc"


def can_write(folder: str | os.PathLike[str]) -> bool:
    """Whether files can be created in ``folder`` (made if missing): tried, not guessed from permission bits."""
    try:
        with atomic_path(Path(folder) / ".gtloc-write-test"):
            pass
    except (GtlocError, OSError):
        return False
    with contextlib.suppress(OSError):
        (Path(folder) / ".gtloc-write-test").unlink()
    return True


def read_format_json(path: Path, fmt: str, what: str) -> dict[str, Any]:
    """The JSON object in ``path`` whose ``format`` field is ``fmt``: gtloc's own descriptions of what it wrote (a
    feature manifest, a gallery, a library). Unreadable JSON, or another ``format``, is one :class:`GtlocError`
    naming the file and ``what`` it should have been."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GtlocError(f"cannot read {path} ({what}): {exc}") from None
    if not isinstance(document, dict) or document.get("format") != fmt:
        raise GtlocError(f"{path} is not {what} (expected format {fmt!r})")
    return document
