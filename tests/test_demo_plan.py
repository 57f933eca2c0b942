"""The demo's estimate: what a folder has left to do, and the time, memory and disk it announces."""

from __future__ import annotations

import pytest

from gtloc.data.schema import Records, write_records
from gtloc.evaluation.demo import DemoSettings, demo_disk, estimate_seconds, plan_demo, speed_factor


def test_a_fresh_folder_plans_every_stage_and_a_finished_one_none(tmp_path):
    settings = DemoSettings(n_train=20, n_test=4)
    fresh = plan_demo(tmp_path, settings)
    assert (fresh.render, fresh.crops, len(fresh.train), len(fresh.score), fresh.classifier) == (24, 60, 3, 2, True)
    assert fresh.describe() == (
        "render 24 pictures, extract features of 60 crops, train 3 runs, score 2 ablations, "
        "fit the classification baseline"
    )
    assert estimate_seconds(settings, fresh) == pytest.approx(estimate_seconds(settings))
    for name, n in (("world-train", 20), ("world-test", 4)):
        write_records(Records([f"{i}.jpg" for i in range(n)], [[0.0, 0.0]] * n, [[1, 1, 1, 0, 0]] * n),
                      tmp_path / name / "records.csv")  # fmt: skip
    for run in ("gtloc", "gtloc_hard_targets", "gtloc_time_only"):
        (tmp_path / "runs" / run).mkdir(parents=True)
        (tmp_path / "runs" / run / "model_card.json").write_text("{}")
    for run in ("gtloc_hard_targets", "gtloc_time_only"):
        (tmp_path / "runs" / run / "scores.json").write_text("{}")
    (tmp_path / "runs" / "classification.json").write_text("{}")
    left = plan_demo(tmp_path, settings)
    assert (left.render, left.train, left.score, left.classifier) == (0, (), (), False)
    assert left.crops == 60  # no feature cache yet
    assert estimate_seconds(settings, left) < estimate_seconds(settings, fresh) / 2


def test_the_announced_disk_and_the_speed_probe():
    assert demo_disk(DemoSettings()) == "about 435 MB"  # measured: 434 MB (du) for the default demo folder
    assert int(demo_disk(DemoSettings(n_train=600, n_test=120)).split()[1]) < 435
    factor = speed_factor()
    assert 0.05 < factor < 100  # a ratio of this CPU's time now to the measured rates' machine
