"""The demo's training under CPU load: steps/s on a quiet machine vs beside 2 busy processes, per thread policy.

Each policy trains the demo's model (``demo_train_config``: hidden 128, queues of 512, batch 256 on 1280-d
EfficientNet-Lite0-sized features) in a fresh process, because OpenMP reads its waiting policy once, when torch is
first imported. Policies:

* ``old``: what gtloc did before issue 10: torch's defaults (one thread per core, OpenMP's default waiting);
* ``gtloc``: what the command line does now: :func:`gtloc.device.quiet_cpu_threads` before torch is imported
  (``OMP_WAIT_POLICY=PASSIVE``, ``OMP_NUM_THREADS`` = the process's cores, at most 8);
* ``1-thread``: for reference, a single intra-op thread.

Every policy is timed quiet, then while this script runs 2 busy processes (Python busy loops), in one run; the
ratio loaded / quiet is the share of its quiet speed that a policy keeps (issue 10's target: at least 1/4 on 2
cores). The machine's load average is printed with the numbers: other users' load makes "quiet" less quiet.

    python benchmarks/bench_load.py [--seconds 15] [--json benchmarks/results/load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

POLICIES = ("old", "gtloc", "1-thread")
BUSY = "while True: pass"


def child(policy: str, seconds: float) -> dict:
    """Train the demo's model for about ``seconds`` (at least 3 steps after one warm-up step); steps/s."""
    if policy == "gtloc":
        from gtloc.device import quiet_cpu_threads

        quiet_cpu_threads()
    import torch

    from gtloc.evaluation.demo import DemoSettings, demo_train_config
    from gtloc.model.gtloc import GTLoc
    from gtloc.model.losses import GTLocLoss
    from gtloc.training.objective import Objective

    if policy == "1-thread":
        torch.set_num_threads(1)
    config = demo_train_config(DemoSettings())
    model_config = replace(config.model, feature_dim=1280)
    gen = torch.Generator().manual_seed(0)
    n = 3000
    features = torch.randn(n, 1280, generator=gen)
    latlon = torch.rand(n, 2, generator=gen) * torch.tensor([120.0, 360.0]) - torch.tensor([60.0, 180.0])
    cols = [(1, 13), (1, 29), (0, 24), (0, 60), (0, 1)]
    times = torch.stack([torch.randint(lo, hi, (n,), generator=gen) for lo, hi in cols], dim=1).float()
    torch.manual_seed(0)
    model = GTLoc(model_config).train()
    objective = Objective(model, GTLocLoss(config.tau, config.loss_weights, config.use_queues), config.queue_grad)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    batch = config.batch_size

    def step(i: int) -> None:
        rows = torch.arange(i * batch, (i + 1) * batch) % n
        terms = objective(features[rows], latlon[rows], times[rows])
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        model.enqueue(latlon[rows], times[rows])

    step(0)
    done, t0 = 0, time.perf_counter()
    while done < 3 or time.perf_counter() - t0 < seconds:
        step(done + 1)
        done += 1
    elapsed = time.perf_counter() - t0
    return {"policy": policy, "threads": torch.get_num_threads(), "steps": done, "steps_per_s": done / elapsed}


def run_child(policy: str, seconds: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    out = subprocess.run(
        [sys.executable, __file__, "--child", policy, "--seconds", str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="Timed training per policy and condition.")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--busy", type=int, default=2, help="Busy processes started for the loaded condition.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=POLICIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.seconds)))
        return

    rows = []
    for policy in args.policies:
        quiet_load = os.getloadavg()[0]
        quiet = run_child(policy, args.seconds)
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
        try:
            time.sleep(1.0)
            loaded = run_child(policy, args.seconds)
            loaded_load = os.getloadavg()[0]
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
        rows.append(
            {
                "policy": policy,
                "threads": quiet["threads"],
                "quiet_steps_per_s": quiet["steps_per_s"],
                "loaded_steps_per_s": loaded["steps_per_s"],
                "kept": loaded["steps_per_s"] / quiet["steps_per_s"],
                "load_avg_quiet": quiet_load,
                "load_avg_loaded": loaded_load,
            }
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"demo training (batch 256, hidden 128, queues 512, 1280-d features); {cores} cores, {args.busy} busy procs")
    print(f"{'policy':10} {'threads':>7} {'quiet steps/s':>14} {'loaded steps/s':>15} {'kept':>6} {'load avg':>12}")
    for r in rows:
        print(
            f"{r['policy']:10} {r['threads']:7d} {r['quiet_steps_per_s']:14.2f} {r['loaded_steps_per_s']:15.2f} "
            f"{r['kept']:6.2f} {r['load_avg_quiet']:5.1f}/{r['load_avg_loaded']:<5.1f}"
        )
    if args.json:
        from gtloc.io import write_json

        write_json(args.json, {"cores": cores, "busy": args.busy, "rows": rows})


if __name__ == "__main__":
    main()
