"""Training's device plumbing on the CPU: log windows (one host sync per line), bf16 autocast, device choice."""

from __future__ import annotations

import json

import pytest
import torch

from gtloc.errors import GtlocError, ParameterError
from gtloc.model.queues import LabelQueue
from gtloc.training.config import TrainConfig
from gtloc.training.data import TrainingData
from gtloc.training.loop import train
from helpers.toydata import mini_train_config, random_training_data


def _data() -> TrainingData:
    data = random_training_data()
    data.latlon[3] = float("nan")  # terms without rows in some batches: their means are over the steps that had them
    return data


def _log(run) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_log_every_writes_window_means(tmp_path):
    """16 steps, log_every 3, checkpoints every 5: a line every 3 steps and at each checkpoint and the end, each the
    mean of the per-step values of a log_every=1 run of the same batches; the weights are the same."""
    data = _data()
    every_step = train(data, tmp_path / "one", mini_train_config(), device="cpu", progress=False)
    windows = train(data, tmp_path / "three", mini_train_config(log_every=3), device="cpu", progress=False)
    per_step, lines = _log(tmp_path / "one"), _log(tmp_path / "three")
    assert [r["step"] for r in per_step] == list(range(1, 17))
    assert [r["step"] for r in lines] == [3, 5, 8, 10, 13, 15, 16]
    previous = 0
    for line in lines:
        steps = per_step[previous : line["step"]]
        for term in ("loss", "img_gps", "gt2i"):
            expected = sum(r[term] for r in steps) / len(steps)
            assert line[term] == pytest.approx(expected, abs=2e-5), (line["step"], term)
        assert line["lr"] == steps[-1]["lr"] and line["seconds"] > 0
        previous = line["step"]
    for name, tensor in every_step.state_dict().items():
        assert torch.equal(windows.state_dict()[name], tensor), name


def test_log_every_is_not_part_of_the_run(tmp_path):
    """A run resumes with another log_every (it changes what is written, not what is computed); with another
    precision (it changes what is computed) it is refused."""
    data = _data()
    train(data, tmp_path / "run", mini_train_config(), device="cpu", progress=False, stop_after=5)
    with pytest.raises(ParameterError, match=r"with a different config \(differs in \['precision'\]\)"):
        train(data, tmp_path / "run", mini_train_config(precision="bf16"), device="cpu", progress=False, resume=True)
    train(data, tmp_path / "run", mini_train_config(log_every=4), device="cpu", progress=False, resume=True)
    assert [r["step"] for r in _log(tmp_path / "run")] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]


def test_bf16_training_on_the_cpu(tmp_path):
    """bf16 autocast trains on the CPU; its first losses stay within 2% of fp32's (same weights and batches)."""
    data = _data()
    train(data, tmp_path / "fp32", mini_train_config(), device="cpu", progress=False)
    model = train(data, tmp_path / "bf16", mini_train_config(precision="bf16"), device="cpu", progress=False)
    fp32, bf16 = _log(tmp_path / "fp32"), _log(tmp_path / "bf16")
    assert bf16[0]["loss"] == pytest.approx(fp32[0]["loss"], rel=0.02)
    assert bf16[0]["loss"] != fp32[0]["loss"]  # it did run in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32 (autocast)


def test_bad_precision_and_device_are_refused(tmp_path):
    with pytest.raises(GtlocError, match="precision: must be 'fp32' or 'bf16', got 'fp16'"):
        TrainConfig.from_dict({"precision": "fp16"})
    with pytest.raises(ParameterError, match="unknown device 'gpu'"):
        train(_data(), tmp_path / "run", mini_train_config(), device="gpu", progress=False)
    assert not (tmp_path / "run").exists()


def test_queue_position_survives_a_state_dict_round_trip():
    """The queue mirrors its write position in Python: loading buffers must refresh it."""
    queue = LabelQueue(5, 2)
    queue.push(torch.arange(8.0).view(4, 2))
    other = LabelQueue(5, 2)
    other.load_state_dict(queue.state_dict())
    assert torch.equal(other.contents(), queue.contents()) and other.contents().shape == (4, 2)
    for q in (queue, other):
        q.push(torch.full((3, 2), -1.0))
    assert torch.equal(other.items, queue.items)
    assert (int(other.ptr), int(other.count)) == (2, 5)
