"""GT-Loc against its baselines and ablations on the same features, one table from one run.

Trains GT-Loc, the hard-target (tau = 0) and time-only ablations, a month/hour classifier and the trivial floors on
one generated world, scores them all on a held-out world, prints the markdown table and writes JSON.

    python benchmarks/bench_baselines.py --out runs/bench-baselines [--n-train 3000 --n-test 600 --epochs 20]

Stages already finished in --out (worlds, features, trained runs) are reused, as in ``gtloc demo``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gtloc.evaluation.demo import DemoSettings, run_demo
from gtloc.evaluation.report import metrics_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-baselines"))
    parser.add_argument("--n-train", type=int, default=DemoSettings.n_train)
    parser.add_argument("--n-test", type=int, default=DemoSettings.n_test)
    parser.add_argument("--epochs", type=int, default=DemoSettings.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = DemoSettings(n_train=args.n_train, n_test=args.n_test, epochs=args.epochs, seed=args.seed)
    run_demo(args.out, settings, progress=False, log=lambda message: None)
    metrics = json.loads((args.out / "metrics.json").read_text())
    table = metrics_table({"gtloc": metrics, **metrics["baselines"]})
    print(table)
    (args.out / "bench_baselines.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"\nJSON: {args.out / 'bench_baselines.json'}")


if __name__ == "__main__":
    main()
