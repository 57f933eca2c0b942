"""Two-process training under torchrun (gloo, CPU) matches one process on the same global batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from gtloc.errors import GtlocError
from gtloc.evaluation.experiment import TIME_ONLY_WEIGHTS
from gtloc.model.gtloc import GTLoc
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import TrainingData
from gtloc.training.distributed import launched_by_torchrun
from gtloc.training.loop import train
from helpers.toydata import random_labels

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from gtloc.model.gtloc import GTLoc
    from gtloc.training.distributed import process_group
    from gtloc.training.data import TrainingData
    from gtloc.training.loop import train
    from gtloc.training.config import load_train_config
    blob = torch.load(sys.argv[1], weights_only=True)
    data = TrainingData(blob["features"], blob["latlon"], blob["times"], "test")
    encode_location, places = GTLoc.encode_location, {}
    with process_group():  # one group for all runs: train() uses it and leaves it alone
        for out_dir, config in zip(sys.argv[2::2], sys.argv[3::2]):
            places[out_dir] = 0
            def counted(model, latlon, out_dir=out_dir):
                places[out_dir] += len(latlon)
                return encode_location(model, latlon)
            GTLoc.encode_location = counted
            train(data, out_dir, load_train_config(config), progress=False)
    counts = " ".join(f"{os.path.basename(d)}={n}" for d, n in places.items())
    sys.stdout.write(f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']} places encoded: {counts}\\n")
    """
)


def _data(n: int = 48) -> TrainingData:
    latlon, times = random_labels(n, seed=0)
    latlon[5] = float("nan")  # a row without GPS and one without time: masks must agree across processes
    times[9] = float("nan")
    return TrainingData(torch.randn(n, 16, generator=torch.Generator().manual_seed(1)), latlon, times, "test")


def _config(**overrides) -> TrainConfig:
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=32, embed_dim=16, rff_dim=16, queue_size=20)
    # adapt_to_data off: on 48 rows it would turn on input dropout, whose masks differ between processes.
    values = dict(epochs=1, batch_size=12, warmup_steps=1, checkpoint_every=100, model=model, adapt_to_data=False)
    values.update(overrides)
    return TrainConfig(**values)


def _losses(run_dir) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    """Exact objective, queue_grad=False and the time-only ablation: same losses per step and same final weights
    as one process, and the time-only run encodes no place (the same candidate rule as one process)."""
    from gtloc.training.config import save_train_config

    data = _data()
    torch.save({"features": data.features, "latlon": data.latlon, "times": data.times}, tmp_path / "data.pt")
    (tmp_path / "run.py").write_text(SCRIPT)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(tmp_path / "run.py"),
    ]
    cmd.append(str(tmp_path / "data.pt"))
    configs = {str(queue_grad): _config(queue_grad=queue_grad) for queue_grad in (True, False)}
    configs["time_only"] = _config(loss_weights=TIME_ONLY_WEIGHTS)
    for name, config in configs.items():
        save_train_config(config, tmp_path / f"config-{name}.yaml")
        cmd += [str(tmp_path / f"ddp-{name}"), str(tmp_path / f"config-{name}.yaml")]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    places = {}
    for line in done.stdout.splitlines():
        rank, _, counts = line.partition(" places encoded: ")
        places[rank] = {run: int(n) for run, n in (item.split("=") for item in counts.split())}
    assert set(places) == {"rank 0 of 2", "rank 1 of 2"}
    for counts in places.values():  # the time-only ablation encodes no place on any process, as on one process
        assert counts["ddp-True"] > 0 and counts["ddp-time_only"] == 0

    for name, config in configs.items():
        single = train(data, tmp_path / f"single-{name}", config, progress=False)
        ddp_losses, single_losses = _losses(tmp_path / f"ddp-{name}"), _losses(tmp_path / f"single-{name}")
        assert len(ddp_losses) == len(single_losses) == 4  # 48 rows / batch 12, only process 0 logs
        assert ddp_losses == pytest.approx(single_losses, abs=1e-4)
        ddp_state, single_state = (
            GTLoc.from_pretrained(tmp_path / f"ddp-{name}").state_dict(),
            single.state_dict(),
        )
        for name, tensor in single_state.items():
            torch.testing.assert_close(ddp_state[name], tensor, rtol=1e-4, atol=1e-5, msg=name)


def test_not_under_torchrun_by_default(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert not launched_by_torchrun()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "localhost")
    monkeypatch.setenv("MASTER_PORT", "29500")
    # One torchrun process is torchrun too: it must take cuda:LOCAL_RANK (issue 10: it silently trained on the CPU).
    assert launched_by_torchrun()


def test_torchrun_device(monkeypatch):
    from gtloc.errors import ParameterError
    from gtloc.training.distributed import torchrun_device

    monkeypatch.setenv("LOCAL_RANK", "0")
    assert torchrun_device("cpu") == torch.device("cpu")
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert torchrun_device("auto") == expected
    with pytest.raises(ParameterError, match="cuda:LOCAL_RANK, not cuda:1") as info:
        torchrun_device("cuda:1")
    assert info.value.parameter == "device"


def test_batch_not_divisible_by_processes_is_refused():
    from gtloc.model.losses import GTLocLoss
    from gtloc.training.distributed import DistContext, wrap_loss

    ctx = DistContext(0, 2, 0, torch.device("cpu"), "gloo")
    model = GTLoc(_config().model)
    with pytest.raises(GtlocError, match="batch_size 13 must be divisible"):
        wrap_loss(model, GTLocLoss(), True, ctx, 13)


def test_is_main_process_only_on_rank_0(monkeypatch):
    from gtloc.training.distributed import is_main_process

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert is_main_process()
    for var, value in (("WORLD_SIZE", "2"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "localhost"), ("MASTER_PORT", "1")):
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [1, 2])
def test_gtloc_train_cli_under_torchrun(toy_world, tmp_path, nproc):
    """`torchrun --standalone --nproc_per_node=N -m gtloc train ...` (N = 1 too): one set of messages, a complete,
    loadable run equal to the plain run."""
    from gtloc.training.config import save_train_config
    from gtloc.training.data import load_training_data

    features, records = toy_world["features"], toy_world["records"]
    config = _config(batch_size=32)
    save_train_config(config, tmp_path / "config.yaml")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "gtloc"]
    cmd += ["train", "--device", "auto"]
    cmd += [
        "--features",
        str(features),
        "--records",
        str(records),
        "--config",
        str(tmp_path / "config.yaml"),
    ]
    cmd += ["--out", str(tmp_path / "ddp"), "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("training on 160 records (toy features, dim 96)") == 1
    assert done.stdout.count("model saved in") == 1
    names = {"config.json", "model.safetensors", "train_config.yaml", "log.jsonl", "training_state.safetensors"}
    assert names <= {p.name for p in (tmp_path / "ddp").iterdir()}
    single = train(load_training_data(features, records), tmp_path / "single", config, progress=False)
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "single"), abs=1e-4)
    ddp = GTLoc.from_pretrained(tmp_path / "ddp").state_dict()
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(ddp[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
