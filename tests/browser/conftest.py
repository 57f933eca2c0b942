"""Browser tests: a live app on 127.0.0.1 and headless Debian Chromium driven by Selenium (chromium-driver).

These tests FAIL (never skip) when Chromium is missing, with the command that installs it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from helpers.world import tiny_predictor

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver && pip install selenium (the dev extra)"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app):
    """Serve ``app`` with uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web app did not start on 127.0.0.1")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_app(toy_world):
    """The app over the toy world, served by uvicorn in a thread; yields its base URL and the world."""
    import torch

    from gtloc.inference.predictor import Predictor
    from gtloc.web.app import create_app

    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    # Like MP-16, whose 100k entries hold many photos of one town: every place three times, about 1 km apart.
    latlon = toy_world["gallery"].latlon
    predictor = Predictor(
        toy_world["model"], gps_gallery=torch.cat([latlon, latlon + 0.01, latlon - 0.01]), backbone=predictor.backbone
    )
    app = create_app(predictor, toy_world["gallery"])
    for url in _serve(app):
        yield {"url": url, "world": toy_world}


@pytest.fixture(scope="session")
def near_app(toy_world):
    """The app over a GPS gallery of six places around Oslo, 22 km apart on a grid: every top place lies within
    50 km of the others (distinct, as they are over 10 km apart), so a zoomed-out map must cluster them."""
    import torch

    from gtloc.inference.predictor import Predictor
    from gtloc.web.app import create_app

    places = torch.tensor([[59.91 + 0.2 * i, 10.75 + 0.4 * j] for i in range(2) for j in range(3)])
    predictor = Predictor(toy_world["model"], gps_gallery=places, backbone=tiny_predictor(
        toy_world["model"], toy_world["gallery"]).backbone)  # fmt: skip
    yield from _serve(create_app(predictor, toy_world["gallery"]))


@pytest.fixture(scope="session")
def foreign_app(toy_world):
    """The same model with a domain profile made of the toy world's pictures alone (their typical distance to the
    reference is their distance to themselves, about 0): any other photo is outside its domain."""
    from gtloc.model.domain import DomainProfile
    from gtloc.web.app import create_app

    predictor = tiny_predictor(toy_world["model"], toy_world["gallery"])
    predictor.domain = DomainProfile.build(toy_world["gallery"].features, toy_world["gallery"].features)
    yield from _serve(create_app(predictor, toy_world["gallery"]))


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile; fails with install instructions when it is not there."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists() and not shutil.which(Path(p).name)]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: install with `{INSTALL}`")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"browser tests need the selenium package: `{INSTALL}`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def shots(request, tmp_path) -> Path:
    """Where screenshots go: $GTLOC_SCREENSHOTS if set (to look at them), else the test's tmp folder."""
    import os

    folder = Path(os.environ.get("GTLOC_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
