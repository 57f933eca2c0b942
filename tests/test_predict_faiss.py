"""Predictor with a FAISS GPS index: same places as exact search, built once and cached, FAISS stays optional."""

from __future__ import annotations

import csv
import sys

import pytest
import torch
import torch.nn.functional as F

import gtloc.retrieval.faiss
from gtloc.errors import GtlocError
from gtloc.inference.predictor import Predictor
from gtloc.model.config import GalleryConfig
from gtloc.model.gtloc import GTLoc
from helpers.cli import run_cli
from helpers.world import tiny_config

TIMES = torch.tensor([[1.0, 1, 12, 0, 0], [7, 1, 12, 0, 0]])


def tiny_model(seed: int = 0) -> GTLoc:
    return GTLoc(tiny_config(feature_dim=12, embed_dim=64, seed=seed)).eval()


def random_places(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=gen) * torch.tensor([140.0, 360.0]) - torch.tensor([60.0, 180.0])


def image_like_queries(model: GTLoc, n: int, seed: int) -> torch.Tensor:
    """Embeddings as a trained image head would give: near the location embedding of some place, plus noise."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        places = model.encode_location(random_places(n, seed + 1))
    return F.normalize(places + 0.02 * torch.randn(places.shape, generator=gen), dim=-1)


def test_faiss_flat_gives_the_places_of_exact_search():
    model = tiny_model()
    gallery = random_places(3000, 1)
    exact = Predictor(model, gps_gallery=gallery, time_gallery=TIMES)
    flat = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, gps_index="faiss-flat")
    features = torch.randn(200, 12)
    a, b = exact.predict(features, top_k=3), flat.predict(features, top_k=3)
    assert torch.equal(a.place_topk[:, 0], b.place_topk[:, 0])
    assert torch.equal(a.time_topk, b.time_topk)  # the time gallery is searched as before
    # Probabilities are normalised over a 64-entry shortlist: at least the full-gallery ones, ordered alike.
    assert (b.place_probs >= a.place_probs - 1e-6).all() and (b.place_probs[:, :-1] >= b.place_probs[:, 1:]).all()
    q = image_like_queries(model, 100, 5)
    ea, fb = exact.predict_embeddings(q, when=False), flat.predict_embeddings(q, when=False)
    assert torch.equal(ea.place_topk[:, 0], fb.place_topk[:, 0])


def test_ivf_agrees_with_exact_search_on_a_20k_gallery(tmp_path):
    # A random model's location embeddings are crowded (mean cosine 0.98 between places), the hard case for IVF:
    # 99 % needs a quarter of the 512 lists here (docs/scale.md has the trade-off on a trained model).
    model = tiny_model()
    gallery = random_places(20_000, 2)
    exact = Predictor(model, gps_gallery=gallery, time_gallery=TIMES)
    queries = image_like_queries(model, 1000, 3)
    a = exact.predict_embeddings(queries, when=False)
    for nprobe, expected in ((128, 0.99), (512, 1.0)):
        ivf = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, gps_index="faiss-ivf", nprobe=nprobe)
        b = ivf.predict_embeddings(queries, when=False)
        assert ivf.gps_search.index.index.nlist == 512
        assert (a.place_topk[:, 0] == b.place_topk[:, 0]).all(dim=1).float().mean() >= expected


def test_the_index_is_built_once_and_cached_beside_the_gallery(tmp_path, monkeypatch):
    model = tiny_model()
    gallery = random_places(2000, 4)
    first = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, cache_dir=tmp_path, gps_index="faiss-ivf")
    saved = sorted(p.name for p in tmp_path.glob("*.faiss"))
    (gps_file,) = [p.name for p in tmp_path.glob("gps-*.safetensors")]
    assert saved == [gps_file.removesuffix(".safetensors") + "-ivf-nlistauto.faiss"]

    def no_build(*args, **kwargs):
        raise AssertionError("the cached index should have been loaded")

    monkeypatch.setattr(gtloc.retrieval.faiss.FaissIndex, "build", no_build)
    second = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, cache_dir=tmp_path, gps_index="faiss-ivf")
    queries = image_like_queries(model, 50, 6)
    a, b = first.predict_embeddings(queries, when=False), second.predict_embeddings(queries, when=False)
    assert torch.equal(a.place_topk, b.place_topk) and torch.equal(a.place_probs, b.place_probs)
    with pytest.raises(AssertionError, match="cached index"):  # other weights: another key, so a new index
        Predictor(
            tiny_model(seed=1), gps_gallery=gallery, time_gallery=TIMES, cache_dir=tmp_path, gps_index="faiss-ivf"
        )


def test_a_damaged_cached_index_is_rebuilt(tmp_path):
    model = tiny_model()
    gallery = random_places(2000, 4)
    Predictor(model, gps_gallery=gallery, time_gallery=TIMES, cache_dir=tmp_path, gps_index="faiss-flat")
    (index_file,) = tmp_path.glob("*.faiss")
    index_file.write_bytes(b"garbage")
    predictor = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, cache_dir=tmp_path, gps_index="faiss-flat")
    assert predictor.gps_search.index.index.ntotal == 2000 and index_file.stat().st_size > 2000 * 64 * 4


@pytest.mark.slow
def test_ivfpq_reranks_exactly():
    model = tiny_model()
    gallery = random_places(5000, 7)
    exact = Predictor(model, gps_gallery=gallery, time_gallery=TIMES)
    pq = Predictor(model, gps_gallery=gallery, time_gallery=TIMES, gps_index="faiss-ivfpq", nprobe=32)
    queries = image_like_queries(model, 300, 8)
    a, b = exact.predict_embeddings(queries, when=False), pq.predict_embeddings(queries, when=False)
    assert (a.place_topk[:, 0] == b.place_topk[:, 0]).all(dim=1).float().mean() >= 0.97


def test_without_faiss_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    with pytest.raises(GtlocError, match=r"FAISS is not installed: pip install faiss-cpu"):
        Predictor(tiny_model(), gps_gallery=random_places(100, 0), time_gallery=TIMES, gps_index="faiss-ivf")
    Predictor(tiny_model(), gps_gallery=random_places(100, 0), time_gallery=TIMES)  # exact needs no FAISS


def test_an_unknown_index_is_refused():
    with pytest.raises(GtlocError, match=r"unknown GPS index 'hnsw'; choose one of exact, faiss-flat, faiss-ivf"):
        Predictor(tiny_model(), gps_gallery=random_places(10, 0), time_gallery=TIMES, gps_index="hnsw")


def test_cli_gps_index_option(tmp_path, monkeypatch, capsys):
    gallery_csv = tmp_path / "gallery.csv"
    places = random_places(500, 9)
    gallery_csv.write_text("lat,lon\n" + "".join(f"{lat:.4f},{lon:.4f}\n" for lat, lon in places.tolist()))
    config = tiny_model().config
    config.gallery = GalleryConfig(gps=str(gallery_csv), time_days_step=60, time_minutes_step=120)
    config.backbone, config.feature_dim = "tiny", 12
    GTLoc(config).save_pretrained(tmp_path / "run")
    from safetensors.torch import save_file

    features = tmp_path / "features"
    features.mkdir()
    save_file({"features": torch.randn(20, 12)}, str(features / "shard-00000.safetensors"))
    (features / "shard-00000.json").write_text('{"paths": [' + ",".join(f'"p{i}.jpg"' for i in range(20)) + "]}")
    manifest = (
        '{"format": "gtloc-features/1", "backbone": "tiny", "feature_dim": 12, "weights": "w", "preprocess": {}, '
        '"tencrop": false, "shards": [{"file": "shard-00000.safetensors", "paths_file": "shard-00000.json", '
        '"rows": 20}], "failed": []}'
    )
    (features / "manifest.json").write_text(manifest)
    base = ("predict", "--checkpoint", tmp_path / "run", "--features", features, "--show", 0, "--no-progress")
    outputs = {}
    for kind in ("exact", "faiss-flat"):
        code, _, stderr = run_cli(monkeypatch, capsys, *base, "--gps-index", kind, "--out", tmp_path / f"{kind}.csv")
        assert code == 0, stderr
        with open(tmp_path / f"{kind}.csv", newline="") as handle:
            outputs[kind] = list(csv.DictReader(handle))
    # The same answers; with FAISS the place probabilities (and the radius read from them) are the shortlist's.
    shortlist_bound = ("p_place", "radius_km")
    assert [{k: v for k, v in r.items() if k not in shortlist_bound} for r in outputs["exact"]] == [
        {k: v for k, v in r.items() if k not in shortlist_bound} for r in outputs["faiss-flat"]
    ]
    assert all(float(f["p_place"]) >= float(e["p_place"]) for e, f in zip(*outputs.values(), strict=True))
    assert list((tmp_path / "run" / "galleries").glob("gps-*-flat.faiss"))
    code, _, stderr = run_cli(monkeypatch, capsys, *base, "--gps-index", "annoy", "--out", tmp_path / "x.csv")
    assert code == 2 and "unknown GPS index 'annoy'" in stderr
