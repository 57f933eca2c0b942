"""Session fixtures that tests share are read-only: :class:`Frozen` takes away every write permission of a folder
(a test run as a user then fails where it writes) and remembers what it holds (a test run as root, which the modes
do not stop, fails when the folder has changed after it); :func:`copy_run` gives a test its own writable copy."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

WRITE = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of every file under ``folder``, and ``(0, 0)`` of every folder (a folder's
    time changes when a file is made and removed in it: readers test whether they could write a cache there)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        out[str(path.relative_to(folder))] = (0, 0) if path.is_dir() else (info.st_size, info.st_mtime_ns)
    return out


def _chmod(folder: Path, write: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.lstat().st_mode
        path.chmod(mode | stat.S_IWUSR if write else mode & ~WRITE)


class Frozen:
    """``folder``, read-only from now until :meth:`thaw`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        _chmod(folder, write=False)
        self.listing = _listing(folder)

    def changes(self) -> list[str]:
        """The paths (relative to the folder) added, removed or rewritten since it was frozen or last asked (so one
        change is reported once, in the test that made it)."""
        now = _listing(self.folder)
        changed = sorted(p for p in self.listing.keys() | now.keys() if self.listing.get(p) != now.get(p))
        self.listing = now
        return changed

    def thaw(self) -> None:
        _chmod(self.folder, write=True)


def copy_run(run: Path, to: Path) -> Path:
    """A writable copy of the run folder ``run`` at ``to`` (which must not exist); returns ``to``."""
    shutil.copytree(run, to)
    _chmod(to, write=True)
    return to
