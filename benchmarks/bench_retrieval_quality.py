"""Retrieval and metadata-verification quality of a trained model on a held-out world.

* Composed geo-time retrieval ((location + time) -> image): each test picture's own place and time is a request;
  recall@1/5/10 over the test gallery, where a hit is a picture within 125 km of the requested place and within
  one hour (``place+hour``), one month (``place+month``) or both (``place+month+hour``) of the requested time.
* Geo-time aware retrieval (picture + target time -> pictures of the same place at that time): the target time is
  that of another test picture within 125 km of the query picture; the query picture itself is left out.
* Metadata verification: every test picture with its true claim, and with a claim shifted to another place
  (>= 1000 km away), another month (3-6 months off) or another hour (4-12 h off); ROC AUC of true vs shifted
  claims per kind of shift (overall score, the matching check's percentile and credibility), plus the shares of
  verdicts of the model check (``consistent`` / ``inconsistent`` / ``cannot judge``, the rule of
  ``gtloc.evidence.model``) with the run's fitted ``inconsistent_below`` and, beside them (``fixed 10 %``), with
  the fixed threshold it replaced. The claims are scored as ``verify`` scores them (month and hour in the run's
  read-out posterior, the training neighbours mixed in).

Baselines in the same run: ranking by place alone (no time), a random ranking (expected recall, exact), and for
geo-time aware retrieval plain image similarity (no time) and the true place of the query picture in place of
the predicted one.

    python benchmarks/bench_retrieval_quality.py --run RUN --records TEST/records.csv --features FEAT_TEST \\
        --out retrieval_quality.json
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
import torch

from gtloc.data.schema import load_records
from gtloc.evidence.model import model_verdicts
from gtloc.geo import pairwise_haversine_km
from gtloc.inference.predictor import Predictor
from gtloc.inference.retrieve import Retriever
from gtloc.inference.verify import overall_percentile, score_claims
from gtloc.io import write_json
from gtloc.model.space import compose
from gtloc.retrieval.image_gallery import build_image_gallery
from gtloc.retrieval.search import search
from gtloc.timecode import HOUR_PERIOD, MONTH_PERIOD, cyclic_difference, hour_fraction, protocol_month_value

KS = (1, 5, 10)
RADIUS_KM = 125.0
OTHER_PLACE_KM = 1000.0


def relevance(latlon: np.ndarray, times_a: np.ndarray, times_b: np.ndarray) -> dict[str, np.ndarray]:
    """``(Q, N)`` hit masks: gallery pictures (places ``latlon`` ``(N, 2)``, times ``times_b``) within 125 km of each
    query place (rows of ``latlon`` too) and within 1 month / 1 hour of the requested times ``times_a`` ``(Q, 5)``."""
    near = np.asarray(pairwise_haversine_km(latlon, latlon)) <= RADIUS_KM
    dm = cyclic_difference(protocol_month_value(times_a)[:, None], protocol_month_value(times_b)[None], MONTH_PERIOD)
    dh = cyclic_difference(hour_fraction(times_a)[:, None], hour_fraction(times_b)[None], HOUR_PERIOD)
    return {
        "place+hour": near & (dh <= 1.0),
        "place+month": near & (dm <= 1.0),
        "place+month+hour": near & (dm <= 1.0) & (dh <= 1.0),
    }


def recall_at(indices: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    """Share of answerable queries with a hit in the top k, for each k in ``KS``."""
    answerable = relevant.any(axis=1)
    hit = np.take_along_axis(relevant, indices, axis=1)
    return {f"R@{k}": float(hit[answerable, :k].any(axis=1).mean()) for k in KS}


def random_recall(relevant: np.ndarray, excluded: int = 0) -> dict[str, float]:
    """Expected recall@k of a uniformly random ranking: 1 - C(N - h, k) / C(N, k), averaged over queries."""
    n = relevant.shape[1] - excluded
    out = {}
    for k in KS:
        miss = [math.comb(n - int(h), k) / math.comb(n, k) for h in relevant.sum(axis=1) if h > 0]
        out[f"R@{k}"] = float(1 - np.mean(miss))
    return out


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC = P(score of a true claim > score of a shifted one), ties counted half."""
    p, n = positive[:, None], negative[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def shifted_claims(latlon: np.ndarray, times: np.ndarray, rng: np.random.Generator) -> dict[str, tuple]:
    """Claims for each picture: true, another place (>= 1000 km), another month (3-6 off), another hour (4-12 off)."""
    n = len(latlon)
    dist = np.asarray(pairwise_haversine_km(latlon, latlon))
    other = np.array([rng.choice(np.flatnonzero(dist[i] >= OTHER_PLACE_KM)) for i in range(n)])
    month_shift = rng.integers(3, 7, n) * rng.choice([-1, 1], n)
    months = times.copy()
    months[:, 0] = (times[:, 0] - 1 + month_shift) % 12 + 1
    months[:, 1] = np.minimum(times[:, 1], 28)
    hour_shift = rng.integers(4, 13, n) * rng.choice([-1, 1], n)
    hours = times.copy()
    hours[:, 2] = (times[:, 2] + hour_shift) % 24
    return {
        "true": (latlon, times),
        "other place": (latlon[other], times),
        "other month": (latlon, months),
        "other hour": (latlon, hours),
    }


def verdict_shares(verdicts: np.ndarray, prefix: str = "") -> dict[str, float]:
    """Share of each overall verdict among ``verdicts`` (strings), named ``prefix`` + the verdict."""
    return {prefix + v: float((verdicts == v).mean()) for v in ("consistent", "inconsistent", "cannot judge")}


FIXED_BELOW = 10.0
"""The percentile below which every part was inconsistent before the run's ``inconsistent_below`` was fitted."""


def table(title: str, rows: dict[str, dict[str, float]]) -> str:
    columns = list(next(iter(rows.values())))
    lines = [f"\n{title}", "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * values[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run directory of the trained model")
    parser.add_argument("--records", required=True, help="records CSV of the held-out world")
    parser.add_argument("--features", required=True, help="feature cache of the held-out world")
    parser.add_argument("--out", default="retrieval_quality.json", help="JSON results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    predictor = Predictor.from_pretrained(args.run)
    model = predictor.model
    records = load_records(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = build_image_gallery(
            model, tmp, records=records, features_dir=args.features, checkpoint=args.run
        ).gallery
    latlon, times = gallery.latlon.numpy().astype(float), gallery.times.numpy().astype(float)
    retriever = Retriever(model, gallery, predictor)
    n, k = len(gallery), max(KS)
    results: dict = {"n_gallery": n, "run": str(args.run), "records": str(args.records)}

    # Composed (location + time) -> image: each picture's own labels are a request.
    rel = relevance(latlon, times, times)
    composed = retriever.composed_batch(gallery.latlon, gallery.times, k).indices.numpy()
    with torch.inference_mode():
        place_only = search(model.encode_location(gallery.latlon), gallery.embeddings, k).indices.numpy()
    results["composed"] = {
        crit: {
            "gt2i (location + time)": recall_at(composed, mask),
            "location only (img_gps)": recall_at(place_only, mask),
            "random ranking": random_recall(mask),
            "mean hits per request": float(mask.sum(axis=1).mean()),
        }
        for crit, mask in rel.items()
    }

    # Geo-time aware: picture i + the time of another picture j within 125 km -> pictures there at that time.
    dist = np.asarray(pairwise_haversine_km(latlon, latlon))
    partners = [np.flatnonzero((dist[i] <= RADIUS_KM) & (np.arange(n) != i)) for i in range(n)]
    queries = np.array([i for i in range(n) if len(partners[i])])
    targets = np.array([rng.choice(partners[i]) for i in queries])
    target_times = torch.from_numpy(times[targets]).float()
    exclude = torch.from_numpy(queries).long()
    rel_gta = {c: m[targets][:, :] & (dist[queries] <= RADIUS_KM) for c, m in relevance(latlon, times, times).items()}
    for mask in rel_gta.values():
        mask[np.arange(len(queries)), queries] = False
    methods = {}
    for place in ("predicted", "image"):
        hits = retriever.geo_time_aware(gallery.embeddings[queries], target_times, k, place=place, exclude=exclude)
        methods[f"place={place}"] = hits.indices.numpy()
    similar = search(gallery.embeddings[queries], gallery.embeddings, k, exclude=exclude)
    methods["image similarity only (no time)"] = similar.indices.numpy()
    with torch.inference_mode():
        oracle = compose(model.encode_location(gallery.latlon[queries]), model.encode_time(target_times))
    methods["true place + time"] = search(oracle, gallery.embeddings, k, exclude=exclude).indices.numpy()
    results["geo_time_aware"] = {"n_queries": len(queries)}
    for crit, mask in rel_gta.items():
        block = {name: recall_at(idx, mask) for name, idx in methods.items()}
        block["random ranking"] = random_recall(mask, excluded=1)
        results["geo_time_aware"][crit] = block

    # Verification: true claims vs claims shifted in place, month or hour.
    claims = shifted_claims(latlon, times, rng)
    guess = predictor.predict_embeddings(gallery.embeddings, top_k=1, features=gallery.features)  # as verify's
    in_domain, calibration = guess.in_domain, predictor.temperatures
    fixed = dict.fromkeys(calibration.inconsistent_below, FIXED_BELOW)
    scored = {}
    for kind, (ll, tt) in claims.items():
        ll, tt = torch.from_numpy(ll).float(), torch.from_numpy(tt).float()
        s = score_claims(predictor, gallery.embeddings, ll, tt, guess)
        verdicts = model_verdicts(s, in_domain, calibration.flat_below, calibration.inconsistent_below)
        before = model_verdicts(s, in_domain, calibration.flat_below, fixed)
        scored[kind] = {
            "overall": overall_percentile(s).numpy(),
            "verdicts": np.array(verdicts),
            "fixed 10 %": np.array(before),
        }
        scored[kind].update({f"{c} percentile": v.percentile.numpy() for c, v in s.items()})
        scored[kind].update({f"{c} credibility": v.credibility.numpy() for c, v in s.items()})
    matching = {"other place": "place", "other month": "month", "other hour": "hour"}
    verification = {}
    for kind, check in matching.items():
        true, shifted = scored["true"], scored[kind]
        verification[kind] = {
            "AUC overall": auc(true["overall"], shifted["overall"]),
            f"AUC {check} percentile": auc(true[f"{check} percentile"], shifted[f"{check} percentile"]),
            f"AUC {check} credibility": auc(true[f"{check} credibility"], shifted[f"{check} credibility"]),
            "AUC time percentile": auc(true["time percentile"], shifted["time percentile"]),
            **verdict_shares(shifted["verdicts"]),
            **verdict_shares(shifted["fixed 10 %"], "fixed 10 %: "),
        }
    verification["true claims"] = {
        **verdict_shares(scored["true"]["verdicts"]),
        **verdict_shares(scored["true"]["fixed 10 %"], "fixed 10 %: "),
    }
    if in_domain is not None:
        verification["in domain"] = {"share": float(in_domain.float().mean())}
    results["verification"] = verification
    results["seconds"] = round(time.perf_counter() - t0, 1)

    for crit, block in results["composed"].items():
        hits = block.pop("mean hits per request")
        print(table(f"Composed retrieval, hit = {crit} (mean {hits:.1f} hits per request, N={n})", block))
        block["mean hits per request"] = hits
    for crit in rel_gta:
        title = f"Geo-time aware retrieval, hit = {crit} ({len(queries)} queries)"
        print(table(title, results["geo_time_aware"][crit]))
    print(
        "\nVerification: ROC AUC of true vs shifted claims (overall = lowest place/month/hour percentile), and the "
        "shares of the overall verdicts"
    )
    for kind, values in verification.items():
        print(f"| {kind} | " + " | ".join(f"{name} {100 * v:.1f}" for name, v in values.items()) + " |")
    write_json(args.out, results)
    print(f"\nwritten {args.out} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
