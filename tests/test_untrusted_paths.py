"""Paths stay inside their root: records naming ``..``, absolute paths or symlinks out of ``--images`` are refused
(unless ``--allow-outside-images``), the web app serves only files under the gallery's folder, and two ``features``
runs into one folder cannot both write it."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gtloc.web.app import create_app
from helpers.cli import run_cli
from helpers.world import build_world, tiny_predictor

SRC = Path(__file__).parent.parent / "src"


@pytest.fixture
def escapes(tmp_path) -> dict[str, Path]:
    """An image folder with one good picture, plus records naming a picture outside it in three ways."""
    images, outside = tmp_path / "images", tmp_path / "outside"
    images.mkdir()
    outside.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(images / "ok.png")
    Image.new("RGB", (40, 30), (10, 200, 10)).save(outside / "secret.png")
    (images / "link.png").symlink_to(outside / "secret.png")
    rows = ["ok.png", "../outside/secret.png", str(outside / "secret.png"), "link.png"]
    (tmp_path / "r.csv").write_text("path,lat,lon\n" + "".join(f"{p},1,2\n" for p in rows))
    return {"root": tmp_path, "images": images, "records": tmp_path / "r.csv"}


def _features(monkeypatch, capsys, escapes, out: Path, *extra) -> tuple[int, str, str]:
    args = ("features", "--records", escapes["records"], "--images", escapes["images"], "--out", out)
    return run_cli(monkeypatch, capsys, *args, "--no-progress", *extra)


def test_records_paths_outside_the_image_folder_are_refused(escapes, monkeypatch, capsys):
    out = escapes["root"] / "feats"
    code, stdout, _ = _features(monkeypatch, capsys, escapes, out)
    assert code == 0 and "1 of 4 images" in stdout
    with open(out / "failed.csv", newline="") as handle:
        failed = {row["path"]: row["reason"] for row in csv.DictReader(handle)}
    assert sorted(failed) == sorted(
        ["../outside/secret.png", str(escapes["root"] / "outside" / "secret.png"), "link.png"]
    )
    assert all(f"outside the image folder {escapes['images']}" in reason for reason in failed.values())


def test_allow_outside_images_is_the_explicit_opt_in(escapes, monkeypatch, capsys):
    code, stdout, stderr = _features(monkeypatch, capsys, escapes, escapes["root"] / "feats", "--allow-outside-images")
    assert code == 0 and "4 of 4 images" in stdout, stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("paths"))


def test_the_web_app_serves_only_files_under_the_gallery_folder(world, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    root = world["gallery"].images_root
    (root / "escape.png").symlink_to(secret)
    listed = ["../../../../../../../../etc/passwd", str(secret), "escape.png", world["gallery"].paths[3]]
    n = len(world["gallery"].paths)
    gallery = replace(world["gallery"], paths=listed + world["gallery"].paths[len(listed) :])
    assert len(gallery.paths) == n
    client = TestClient(create_app(tiny_predictor(world["model"], gallery), gallery))
    for index in range(3):
        reply = client.get(f"/gallery/{index}/image")
        assert reply.status_code == 403 and "top secret" not in reply.text and "root:" not in reply.text
    assert client.get("/gallery/3/image").status_code == 200


def test_two_features_runs_into_one_folder_the_second_is_refused(escapes, monkeypatch, capsys):
    out = escapes["root"] / "feats"
    code = "import sys, time\nfrom gtloc.io import exclusive_lock\nwith exclusive_lock(sys.argv[1], 'x'):\n"
    code += "    print('held', flush=True)\n    time.sleep(600)\n"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        status, _, err = _features(monkeypatch, capsys, escapes, out)
        assert status == 2 and err.startswith(f"error: {out} is being written by another gtloc run (pid {holder.pid}")
        assert not (out / "manifest.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    status, stdout, _ = _features(monkeypatch, capsys, escapes, out)
    assert status == 0 and "1 of 4 images" in stdout
