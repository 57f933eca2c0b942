"""What the benchmarks share to compare devices side by side: which devices ``--device`` names, a timer that waits
for the GPU, and the table every ``--device`` section prints (CPU and GPU columns and their ratio, from one run).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from gtloc.device import resolve_device


def add_device_argument(parser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CPU, plus CUDA when there), cpu (CPU only), cuda or cuda:N (CPU plus that GPU)",
    )


def devices_to_compare(name: str) -> list[torch.device]:
    """The CPU, then the GPU that ``name`` names (``auto``: the current one, if CUDA is there)."""
    if name == "cpu":
        return [torch.device("cpu")]
    chosen = resolve_device(name)
    return [torch.device("cpu")] + ([chosen] if chosen.type == "cuda" else [])


def describe(devices: list[torch.device]) -> str:
    """One line naming the devices compared (and saying when there is no GPU)."""
    cpu = f"CPU ({torch.get_num_threads()} torch threads)"
    gpus = [f"{d}: {torch.cuda.get_device_name(d)}" for d in devices if d.type == "cuda"]
    if not gpus:
        return f"{cpu}; no CUDA here (torch.cuda.is_available() is False): GPU column not measured"
    return f"{cpu} vs {', '.join(gpus)}"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(run: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``run()`` in ms over ``repeats`` calls after ``warmup``, waiting for the device each time."""
    for _ in range(warmup):
        run()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def print_table(title: str, unit: str, rows: dict[str, dict[str, float]], lower_is_better: bool = True) -> None:
    """Rows of ``{device: value}``; with a GPU column, the CPU/GPU ratio (how many times faster the GPU is)."""
    columns = list(next(iter(rows.values())))
    print(f"\n{title}")
    header = f"{'':58}" + "".join(f"{c + ' ' + unit:>20}" for c in columns)
    print(header + (f"{'GPU speed-up':>14}" if len(columns) > 1 else ""))
    for name, values in rows.items():
        line = f"{name:58}" + "".join(f"{values[c]:>20.2f}" for c in columns)
        if len(columns) > 1:
            cpu, gpu = values[columns[0]], values[columns[1]]
            line += f"{(cpu / gpu if lower_is_better else gpu / cpu):>13.1f}x"
        print(line)
