"""The Predictor's GPS-gallery search on a trained model: exact vs FAISS flat / IVF, speed, agreement and metrics.

Queries are the image embeddings of a test set (real queries of a trained model, not synthetic ones), searched
over the model's GPS gallery (the 100k MP-16 places by default). For each search: queries/s (ratio to exact, one
run, interleaved rounds), top-1 agreement with exact search on coordinates, median km and acc@2500 km.

    python benchmarks/bench_gps_index.py --run RUN --features FEATDIR --records RECORDS.csv [--nprobe 8 32 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gtloc.geo import geo_metrics
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.gtloc import GTLoc
from gtloc.training.data import load_training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="Trained run directory.")
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--nlist", type=int, default=None, help="IVF lists (default ~4 sqrt(G)).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "gps-index.json")
    args = parser.parse_args()
    model = GTLoc.from_pretrained(args.run)
    test = load_training_data(args.features, args.records, log=lambda _: None)
    truth = test.latlon.double()
    with tempfile.TemporaryDirectory() as cache:
        exact = Predictor(model, cache_dir=cache)
        queries = exact.encode_images(test.features)
        searches = {"exact": exact, "faiss-flat": Predictor(model, cache_dir=cache, gps_index="faiss-flat")}
        for nprobe in args.nprobe:
            searches[f"faiss-ivf nprobe {nprobe}"] = Predictor(
                model, cache_dir=cache, gps_index="faiss-ivf", nprobe=nprobe, nlist=args.nlist
            )
        times: dict[str, list[float]] = {name: [] for name in searches}
        answers = {}
        for _ in range(args.rounds):
            for name, predictor in searches.items():
                t0 = time.perf_counter()
                answers[name] = predictor.predict_embeddings(queries, top_k=1, when=False).latlon
                times[name].append(time.perf_counter() - t0)
        nlist = searches[f"faiss-ivf nprobe {args.nprobe[0]}"].gps_search.index.index.nlist
    gallery_size = len(exact.gps_gallery.labels)
    n = len(queries)
    rows = []
    for name in searches:
        qps = n / statistics.median(times[name])
        metrics = geo_metrics(answers[name].double(), truth)
        agree = (answers[name] == answers["exact"]).all(dim=1).double().mean().item()
        rows.append({"search": name, "queries_per_s": qps, "agreement": agree, **metrics})
    base = rows[0]["queries_per_s"]
    print(f"{n} test queries, GPS gallery of {gallery_size:,}, IVF nlist {nlist}, {torch.get_num_threads()} threads")
    print(f"{'search':<24}{'queries/s':>10}{'ratio':>8}{'top-1 agree':>13}{'median km':>11}{'acc@2500':>10}")
    for r in rows:
        print(
            f"{r['search']:<24}{r['queries_per_s']:>10.0f}{r['queries_per_s'] / base:>7.2f}x"
            f"{100 * r['agreement']:>12.1f}%{r['median_km']:>11.0f}{100 * r['acc_2500km']:>9.1f}%"
        )
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {load}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.json, {"gallery": gallery_size, "queries": n, "nlist": nlist, "rows": rows, "loadavg_end": load})


if __name__ == "__main__":
    main()
