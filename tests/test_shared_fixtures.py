"""The read-only guard of the shared session fixtures (``helpers.frozen``) sees a write, as a user or as root."""

from __future__ import annotations

import os

import pytest

from helpers.frozen import Frozen, copy_run


def test_a_write_into_a_frozen_folder_fails_or_is_seen_and_a_copy_is_writable(tmp_path):
    (tmp_path / "run" / "sub").mkdir(parents=True)
    (tmp_path / "run" / "sub" / "a.txt").write_text("a")
    frozen = Frozen(tmp_path / "run")
    copy = copy_run(tmp_path / "run", tmp_path / "copy")
    (copy / "sub" / "a.txt").write_text("changed")
    (copy / "new.txt").write_text("new")
    assert frozen.changes() == []
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            (tmp_path / "run" / "sub" / "a.txt").write_text("b")
        frozen.thaw()
    (tmp_path / "run" / "sub" / "a.txt").write_text("bb")  # root writes whatever the modes say
    (tmp_path / "run" / "new.txt").write_text("new")
    assert frozen.changes() == ["new.txt", "sub/a.txt"]
    assert frozen.changes() == []  # each change is reported once, by the test that made it
    frozen.thaw()
