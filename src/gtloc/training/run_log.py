"""The run's ``log.jsonl`` as training writes it: one line per ``log_every`` steps (each term's mean over the steps
since the last line, the learning rate, seconds per step), one per validation, and the progress bar beside it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from gtloc.io import atomic_write_text


def truncate_log(path: Path, step: int) -> None:
    """Keep only log lines of steps the restored checkpoint has done (later ones are redone)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


class LogWindow:
    """The loss terms of the steps since the last log line, summed on the device, and the first step whose loss or
    gradient norm was not finite: read once per line (the only time a step waits for the device)."""

    WATCHED = ("loss", "gradient norm")

    def __init__(self, began: float) -> None:
        self.reset(began)

    def reset(self, began: float) -> None:
        """Start a new window at time ``began`` (``time.perf_counter()``)."""
        self.began, self.steps = began, 0
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.bad_code: torch.Tensor | None = None  # 2 * step + index in WATCHED, -1 while all are finite
        self.bad_value: torch.Tensor | None = None

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        for name, value in terms.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value
            self.counts[name] = self.counts.get(name, 0) + 1

    def watch(self, step: int, loss: torch.Tensor, norm: torch.Tensor) -> None:
        """Note (on the device, without waiting) whether step ``step``'s loss or gradient norm is not finite."""
        for kind, value in enumerate((loss, norm)):
            value = value.detach().float()
            if self.bad_code is None:
                self.bad_code = torch.full((), -1, dtype=torch.long, device=value.device)
                self.bad_value = torch.zeros((), device=value.device)
            new = (self.bad_code < 0) & ~torch.isfinite(value)
            self.bad_value = torch.where(new, value, self.bad_value)
            self.bad_code = torch.where(new, 2 * step + kind, self.bad_code)

    def flush(self, now: float) -> tuple[dict[str, float], float, tuple[int, str, float] | None]:
        """Each term's mean over the steps that had it (5 decimals), the mean seconds per step, and the first
        ``(step, what, value)`` that was not finite (or None); then reset."""
        names = list(self.sums)
        parts = [self.sums[n].double() for n in names]
        if self.bad_code is not None:
            parts += [self.bad_code.double(), self.bad_value.double()]
        read = torch.stack(parts).tolist() if parts else []
        values = {n: round(t / self.counts[n], 5) for n, t in zip(names, read, strict=False)}
        bad = None
        if self.bad_code is not None and read[-2] >= 0:
            step, kind = divmod(int(read[-2]), 2)
            bad = (step, self.WATCHED[kind], read[-1])
        seconds = round((now - self.began) / max(self.steps, 1), 4)
        self.reset(now)
        return values, seconds, bad


class RunLog:
    """The log file ``path`` (``None``: write nowhere, as every process but the first does), appended to when
    resuming, the progress bar over ``total`` steps from ``start``, and the :class:`LogWindow` of the steps since the
    last line. A context manager: leaving it closes the file and the bar."""

    def __init__(self, path: Path | None, resume: bool, total: int, start: int, progress: bool) -> None:
        # A fresh run starts a fresh log (a run killed before its first checkpoint leaves lines that are redone).
        self.file = open(os.devnull if path is None else path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115
        self.bar = tqdm(total=total, initial=start, disable=not progress, desc="train", unit="step", dynamic_ncols=True)
        self.window = LogWindow(time.perf_counter())

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        self.bar.close()

    def write(self, line: dict) -> None:
        """One line, flushed to disk."""
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()

    def steps_line(self, step: int, epoch: int, lr: float) -> tuple[int, str, float] | None:
        """Close the window at ``step`` (1-based): the first ``(step, what, value)`` in it that was not finite, or
        None after writing its line (``step``, ``epoch``, ``lr``, each term's mean, ``seconds`` per step)."""
        values, seconds, bad = self.window.flush(time.perf_counter())
        if bad is not None:
            return bad
        self.write({"step": step, "epoch": epoch, "lr": lr, **values, "seconds": seconds})
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
        return None
