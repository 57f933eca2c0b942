"""Small files cannot take large memory: decode, orientation, resize and ten-crop stay bounded or are refused.

The memory tests run the real command (or the web app) in a subprocess and measure its peak resident memory
(``VmHWM`` after resetting it) above what it held before the work started. A 1 x 20,000 PNG strip (166 bytes)
used to take ``gtloc features`` to 5.7 GB; the subprocess is capped (RLIMIT_AS) so a regression fails the test
instead of exhausting the machine.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gtloc.data import images
from gtloc.data.images import ImageTooLargeError, load_image, resize_shorter
from helpers.cli import run_cli

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"
BOUND_MB = 400

PEAK_PROBE = """
import json, resource, sys
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
def measure(work):
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (status("VmSize") + 3 * 2**30, hard))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    result = work()
    print(json.dumps({"extra_mb": (status("VmHWM") - before) / 1e6, "result": result}))
"""


def _peak(script: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE + script], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _strip(path: Path, size=(1, 20_000)) -> Path:
    Image.new("RGB", size, (10, 200, 30)).save(path)
    return path


@pytest.mark.parametrize("size", [(1, 20_000), (20_000, 1), (100, 3300)])
def test_a_strip_is_refused_by_name_before_it_is_resized(tmp_path, size):
    path = _strip(tmp_path / "strip.png", size)
    assert path.stat().st_size < 10_000
    with pytest.raises(ImageTooLargeError) as info:
        load_image(path)
    assert str(path) in str(info.value) and f"more than {images.MAX_ASPECT} times the shorter" in str(info.value)
    with pytest.raises(ImageTooLargeError):
        resize_shorter(Image.new("RGB", size), 256)


def test_the_longest_allowed_strip_still_works(tmp_path):
    path = _strip(tmp_path / "pano.png", (100, 100 * images.MAX_ASPECT))
    assert resize_shorter(load_image(path), 8).size == (8, 8 * images.MAX_ASPECT)


def test_too_many_pixels_are_refused_and_a_large_jpeg_is_decoded_reduced(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    Image.new("RGB", (120, 120), (1, 2, 3)).save(tmp_path / "big.png")
    with pytest.raises(ImageTooLargeError, match=r"big.png: 120 x 120 pixels is more than the 10,000"):
        load_image(tmp_path / "big.png")
    Image.new("RGB", (320, 240), (200, 100, 50)).save(tmp_path / "big.jpg")
    assert load_image(tmp_path / "big.jpg").size == (80, 60)  # 1/4 scale: the largest that fits 10,000 pixels


def test_an_image_without_pixels_is_refused(tmp_path):
    with pytest.raises(images.ImageDecodeError, match="no pixels"):
        images._check_shape(tmp_path / "x.png", 0, 5)


@pytest.mark.slow  # a subprocess measuring peak memory
def test_features_on_a_strip_stays_bounded_and_reports_it(tmp_path):
    (tmp_path / "images").mkdir()
    _strip(tmp_path / "images" / "strip.png")
    Image.new("RGB", (64, 48), (90, 90, 200)).save(tmp_path / "images" / "ok.png")
    (tmp_path / "r.csv").write_text("path,lat,lon\nstrip.png,1,2\nok.png,3,4\n")
    script = f"""
import sys
from gtloc.cli import main
import gtloc.backbones, gtloc.backbones.extract  # what the command imports on first use: loaded before measuring
sys.argv = ["gtloc", "features", "--records", {str(tmp_path / "r.csv")!r}, "--images",
            {str(tmp_path / "images")!r}, "--out", {str(tmp_path / "feats")!r}, "--tencrop", "--no-progress"]
def work():
    try:
        main()
    except SystemExit as exc:
        return exc.code or 0
    return 0
measure(work)
"""
    probe = _peak(script)
    assert probe["result"] == 0
    assert probe["extra_mb"] < BOUND_MB, probe
    failed = (tmp_path / "feats" / "failed.csv").read_text()
    assert "strip.png" in failed and f"more than {images.MAX_ASPECT} times the shorter" in failed


@pytest.mark.slow  # a subprocess measuring peak memory
def test_the_web_app_refuses_a_strip_in_bounded_memory(tmp_path):
    _strip(tmp_path / "strip.png")
    script = f"""
from pathlib import Path
from fastapi.testclient import TestClient
from helpers.world import build_world, tiny_predictor
from gtloc.web.app import create_app
world = build_world(Path({str(tmp_path / "world")!r}))
client = TestClient(create_app(tiny_predictor(world["model"], world["gallery"]), world["gallery"]))
data = Path({str(tmp_path / "strip.png")!r}).read_bytes()
def work():
    reply = client.post("/api/analyze", files={{"photo": ("strip.png", data, "image/png")}})
    return [reply.status_code, reply.json()["error"]]
measure(work)
"""
    probe = _peak(script)
    status, message = probe["result"]
    assert status == 413 and message.startswith("strip.png is refused: 1 x 20000 pixels")
    assert probe["extra_mb"] < BOUND_MB, probe


@pytest.mark.slow  # a subprocess measuring peak memory
def test_the_worst_case_within_the_limits_stays_under_the_documented_bound(tmp_path):
    """An RGBA PNG just under MAX_PIXELS (the costliest mode to convert), through load + ten-crop preprocessing."""
    side = int(images.MAX_PIXELS**0.5)
    out = io.BytesIO()
    Image.new("RGBA", (side, side), (10, 200, 30, 100)).save(out, format="PNG")
    (tmp_path / "rgba.png").write_bytes(out.getvalue())
    script = f"""
from gtloc.backbones.preprocess import Preprocess
from gtloc.data.images import load_image
pp = Preprocess(224, 256, "bilinear", (0.5,) * 3, (0.5,) * 3, 256)
measure(lambda: list(pp.tencrop(load_image({str(tmp_path / "rgba.png")!r})).shape))
"""
    probe = _peak(script)
    assert probe["result"] == [10, 3, 224, 224]
    assert probe["extra_mb"] < BOUND_MB, probe


def test_cli_features_only_strips_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "images").mkdir()
    _strip(tmp_path / "images" / "strip.png")
    Image.new("RGB", (64, 48)).save(tmp_path / "images" / "ok.png")
    (tmp_path / "r.csv").write_text("path,lat,lon\nstrip.png,1,2\nok.png,3,4\n")
    code, out, err = run_cli(
        monkeypatch, capsys, "features", "--records", tmp_path / "r.csv", "--images", tmp_path / "images",
        "--out", tmp_path / "feats", "--no-progress",
    )  # fmt: skip
    assert code == 0 and "1 of 2 images" in out
    assert "strip.png: 1 x 20000 pixels: the longer side is more than 32 times the shorter" in err
