"""Device plumbing on a CPU-only machine: device names, precision, CPU threads, and --device on every command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gtloc.device import autocast, check_precision, cpu_threads, quiet_cpu_threads, resolve_device
from gtloc.errors import ParameterError
from helpers.cli import run_cli

NO_CUDA = not torch.cuda.is_available()
COMMANDS = {
    "features": ["--records", "r.csv", "--images", "imgs", "--out", "feats"],
    "train": ["--features", "feats", "--records", "r.csv", "--out", "run"],
    "predict": ["--checkpoint", "run", "--out", "p.csv", "a.jpg"],
    "retrieve": ["--gallery", "g", "--lat", "1", "--lon", "2"],
    "verify": ["a.jpg", "--checkpoint", "run"],
    "index": ["--checkpoint", "run", "--out", "g", "--images", "imgs"],
    "serve": ["--checkpoint", "run"],
    "demo": ["--out", "demo-out"],
}


def test_cpu_and_auto_without_cuda():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    auto = resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == auto


@pytest.mark.skipif(not NO_CUDA, reason="checks the message for a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_clear_error(name):
    with pytest.raises(ParameterError, match=f"{name} was asked for but CUDA is not available") as info:
        resolve_device(name)
    assert info.value.parameter == "device"
    assert "device=cpu" in str(info.value)


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda1", "mps"])
def test_unknown_device_names_are_refused(name):
    with pytest.raises(ParameterError, match=f"unknown device {name!r}") as info:
        resolve_device(name)
    assert info.value.parameter == "device"


def test_cuda_index_parsing(monkeypatch):
    """``cuda:N`` is checked against the GPUs there are (two pretend GPUs; no CUDA call is made)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    with pytest.raises(ParameterError, match=r"cuda:2: this machine has 2 CUDA devices \(cuda:0 .. cuda:1\)"):
        resolve_device("cuda:2")


def test_precision_rules():
    cpu = torch.device("cpu")
    assert check_precision("fp32", cpu) == "fp32"
    assert check_precision("bf16", cpu) == "bf16"
    with pytest.raises(ParameterError, match="fp16 runs on CUDA only") as info:
        check_precision("fp16", cpu)
    assert info.value.parameter == "precision"
    assert check_precision("fp16", torch.device("cuda", 0)) == "fp16"  # allowed where it runs
    with pytest.raises(ParameterError, match="unknown precision 'fp8'"):
        check_precision("fp8", cpu)


def test_bf16_autocast_on_the_cpu():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert (a @ b).dtype == torch.float32


def test_cpu_threads_are_the_cores_up_to_eight():
    assert [cpu_threads(n) for n in (1, 2, 8, 64)] == [1, 2, 8, 8]
    assert 1 <= cpu_threads() <= 8


def test_quiet_cpu_threads_keeps_what_the_user_set(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    quiet_cpu_threads()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_the_cli_sets_the_thread_policy_before_torch():
    """Importing the command line sets the OpenMP variables; gtloc.device (the option's checks) imports no torch."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    code = (
        "import sys, os; import gtloc.device; light = 'torch' not in sys.modules; import gtloc.cli; "
        "print(light, os.environ['OMP_WAIT_POLICY'], os.environ['OMP_NUM_THREADS'])"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "PASSIVE", str(cpu_threads())]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_device(monkeypatch, capsys, tmp_path, command):
    """--device gpu is refused by every command before it does any work: one error line, exit status 2."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(monkeypatch, capsys, command, *COMMANDS[command], "--device", "gpu")
    assert (code, out) == (2, "")
    assert err == "error: unknown --device 'gpu'; choose auto, cpu, cuda or cuda:N\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not NO_CUDA, reason="checks the message for a machine without CUDA")
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_device_cuda_without_cuda_exits_2(monkeypatch, capsys, tmp_path, command):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(monkeypatch, capsys, command, *COMMANDS[command], "--device", "cuda")
    assert (code, out) == (2, "")
    assert err.startswith("error: cuda was asked for but CUDA is not available")
    assert err.rstrip().endswith("use --device cpu or --device auto") and err.count("\n") == 1
