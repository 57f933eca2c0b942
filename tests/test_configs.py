"""The config files shipped in configs/ are written from the code, which is their one source: byte for byte.

After changing a default or the demo's config, rewrite them with ``python tests/test_configs.py``.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from gtloc.evaluation.demo import DemoSettings, demo_train_config
from gtloc.training.config import TrainConfig, load_train_config, train_config_yaml

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SOURCES: dict[str, tuple[str, Callable[[], TrainConfig]]] = {
    "train-default.yaml": ("The defaults: gtloc.training.config.TrainConfig()", TrainConfig),
    "train-demo.yaml": (
        "`gtloc demo`'s run: gtloc.evaluation.demo.demo_train_config(DemoSettings())",
        lambda: demo_train_config(DemoSettings()),
    ),
}


def expected_text(name: str) -> str:
    what, make = SOURCES[name]
    header = (
        f"# {what}.\n"
        "# Every training hyper-parameter: copy and edit for `gtloc train --config`.\n"
        "# Written from the code by `python tests/test_configs.py` (a test fails when it is out of date).\n"
    )
    return header + train_config_yaml(make())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_config_file_is_the_code_written_out(name):
    assert (CONFIGS / name).read_text() == expected_text(name), f"rewrite configs/{name}: python {__file__}"
    _, make = SOURCES[name]
    assert load_train_config(CONFIGS / name) == make()


if __name__ == "__main__":
    for config_name in SOURCES:
        (CONFIGS / config_name).write_text(expected_text(config_name))
        print(f"wrote {CONFIGS / config_name}")
