"""The config files shipped in configs/ load, and say exactly what the code's defaults are."""

from pathlib import Path

from gtloc.evaluation.demo import DemoSettings, demo_train_config
from gtloc.training.config import TrainConfig, load_train_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_default_config_file_matches_the_code():
    assert load_train_config(CONFIGS / "train-default.yaml") == TrainConfig()


def test_demo_config_file_matches_the_demo():
    assert load_train_config(CONFIGS / "train-demo.yaml") == demo_train_config(DemoSettings())
