"""The feature store: shards, lookup by path, bad images skipped and reported, resume, refusing to mix caches."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.backbones import Backbone, Preprocess
from gtloc.backbones.extract import extract_features
from gtloc.data.features import FeatureStore
from gtloc.data.formats import unreadable_advice
from gtloc.data.images import load_image
from gtloc.data.schema import Records, write_records
from gtloc.errors import GtlocError
from helpers.cli import run_cli

NOT_AN_IMAGE = f"not an image file ({unreadable_advice('notes.jpg')})"

TINY = Preprocess(size=8, resize=8, interpolation="bilinear", mean=(0.5,) * 3, std=(0.5,) * 3, tencrop_resize=10)


class TinyBackbone(Backbone):
    """A 6-d stand-in: per-channel mean and max of the input. Counts its calls; can fail on the n-th one."""

    name = "tiny"
    feature_dim = 6
    preprocessing = TINY
    weights_id = "tiny-v1"

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls = 0
        self.images_seen = 0
        self.fail_on_call = fail_on_call

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-run
        self.images_seen += len(batch)
        return torch.cat([batch.mean(dim=(2, 3)), batch.amax(dim=(2, 3))], dim=1)


@pytest.fixture
def photos(tmp_path):
    """Seven small random photos (PNG/JPEG), a text file posing as a photo and a truncated JPEG."""
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(7):
        name = f"sub/p{i}.png" if i % 2 else f"p{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (12 + i, 16, 3), dtype=np.uint8)).save(root / name)
        names.append(name)
    (root / "notes.jpg").write_text("not a photo\n")
    full = (root / "p0.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(full[: len(full) // 2])
    return root, names


def _expected(root, path: str, backbone: Backbone) -> torch.Tensor:
    return backbone.encode_images(backbone.preprocess(load_image(root / path))[None])[0]


def test_features_are_cached_and_looked_up_by_path(photos, tmp_path):
    root, names = photos
    backbone = TinyBackbone()
    store = extract_features(names, root, backbone, tmp_path / "feats", batch_size=2, shard_size=3, progress=False)
    assert store.paths == names and len(store) == 7
    assert (store.backbone, store.feature_dim, store.tencrop) == ("tiny", 6, False)
    asked = [names[5], names[0], names[5]]
    loaded = store.load(asked)
    assert loaded.shape == (3, 6) and loaded.dtype == torch.float32
    for row, path in zip(loaded, asked, strict=True):
        assert torch.allclose(row, _expected(root, path, TinyBackbone()))
    reopened = FeatureStore.open(tmp_path / "feats")
    assert torch.equal(reopened.load(), store.load(names))
    manifest = json.loads((tmp_path / "feats" / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [3, 3, 1]
    assert manifest["preprocess"] == TINY.fingerprint() and manifest["weights"] == "tiny-v1"


def test_records_with_repeated_paths_are_encoded_once(photos, tmp_path):
    root, names = photos
    records = Records(paths=[names[0], names[1], names[0]], latlon=np.zeros((3, 2)), times=np.full((3, 5), np.nan))
    backbone = TinyBackbone()
    store = extract_features(records, root, backbone, tmp_path / "feats", progress=False)
    assert store.paths == names[:2] and backbone.images_seen == 2


def test_bad_images_are_skipped_and_reported(photos, tmp_path):
    root, names = photos
    paths = [names[0], "notes.jpg", names[1], "cut.jpg", "missing.jpg", names[2]]
    out = tmp_path / "feats"
    store = extract_features(paths, root, TinyBackbone(), out, batch_size=2, progress=False)
    assert store.paths == [names[0], names[1], names[2]]
    missing = f"file not found (looked in {root})"
    assert store.failed == {
        "notes.jpg": NOT_AN_IMAGE,
        "cut.jpg": "truncated or corrupt image data (Truncated File Read)",
        "missing.jpg": missing,
    }
    with open(out / "failed.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["path", "reason"],
            ["notes.jpg", NOT_AN_IMAGE],
            ["cut.jpg", "truncated or corrupt image data (Truncated File Read)"],
            ["missing.jpg", missing],
        ]
    with pytest.raises(GtlocError) as info:
        store.load([names[0], "missing.jpg", "never-listed.jpg"])
    assert str(info.value) == (
        f"feature cache {out} has no features for 2 of 3 paths: missing.jpg ({missing}), never-listed.jpg"
    )


def test_a_fixed_image_is_picked_up_on_the_next_run(photos, tmp_path):
    root, names = photos
    out = tmp_path / "feats"
    extract_features([names[0], "missing.jpg"], root, TinyBackbone(), out, progress=False)
    (root / "missing.jpg").write_bytes((root / names[0]).read_bytes())
    store = extract_features([names[0], "missing.jpg"], root, TinyBackbone(), out, progress=False)
    assert store.paths == [names[0], "missing.jpg"] and store.failed == {}


def test_interrupted_run_resumes_without_recomputing_finished_shards(photos, tmp_path):
    root, names = photos
    out = tmp_path / "feats"
    crashing = TinyBackbone(fail_on_call=4)  # batch 2, shard 4: two shards of 4 and 3; the 2nd dies mid-way
    with pytest.raises(KeyboardInterrupt):
        extract_features(names, root, crashing, out, batch_size=2, shard_size=4, progress=False)
    interrupted = FeatureStore.open(out)
    assert interrupted.paths == names[:4]
    first_shard = out / "shard-00000.safetensors"
    stamp, content = first_shard.stat().st_mtime_ns, first_shard.read_bytes()

    resumed = TinyBackbone()
    store = extract_features(names, root, resumed, out, batch_size=2, shard_size=4, progress=False)
    assert resumed.images_seen == 3  # only the unfinished shard's images
    assert first_shard.stat().st_mtime_ns == stamp and first_shard.read_bytes() == content
    assert store.paths == names
    fresh = extract_features(names, root, TinyBackbone(), tmp_path / "fresh", progress=False)
    assert torch.equal(store.load(names), fresh.load(names))

    again = TinyBackbone()
    extract_features(names, root, again, out, progress=False)
    assert again.calls == 0  # everything is cached


def test_a_cache_from_another_backbone_is_refused(photos, tmp_path):
    root, names = photos
    out = tmp_path / "feats"
    extract_features(names[:2], root, TinyBackbone(), out, progress=False)

    class OtherBackbone(TinyBackbone):
        name = "other"
        weights_id = "other-v1"

    with pytest.raises(GtlocError) as info:
        extract_features(names, root, OtherBackbone(), out, progress=False)
    assert str(info.value) == (
        f'feature cache {out} was made with a different backbone or preprocessing (backbone: cache has "tiny", '
        'this run "other"; weights: cache has "tiny-v1", this run "other-v1"); features from different setups '
        "cannot be mixed: use another out_dir"
    )
    assert FeatureStore.open(out).paths == names[:2]  # untouched


def test_other_preprocessing_or_tencrop_is_refused(photos, tmp_path):
    root, names = photos
    out = tmp_path / "feats"
    extract_features(names[:2], root, TinyBackbone(), out, progress=False)
    with pytest.raises(GtlocError) as info:
        extract_features(names, root, TinyBackbone(), out, tencrop=True, progress=False)
    assert str(info.value) == (
        f"feature cache {out} was made with a different backbone or preprocessing (tencrop: cache has false, "
        "this run true); features from different setups cannot be mixed: use another out_dir"
    )

    class Bicubic(TinyBackbone):
        preprocessing = Preprocess(8, 8, "bicubic", (0.5,) * 3, (0.5,) * 3, 10)

    with pytest.raises(GtlocError, match=r"\(preprocess: cache has \{.*\"bilinear\".*this run \{.*\"bicubic\""):
        extract_features(names, root, Bicubic(), out, progress=False)


def test_tencrop_stores_ten_rows_per_image(photos, tmp_path):
    root, names = photos
    store = extract_features(names[:3], root, TinyBackbone(), tmp_path / "ten", tencrop=True, progress=False)
    features = store.load()
    assert store.tencrop and features.shape == (3, 10, 6)
    backbone = TinyBackbone()
    crops = backbone.preprocess(load_image(root / names[1]), tencrop=True)
    assert torch.allclose(features[1], backbone.encode_images(crops))


def test_opening_a_folder_without_a_cache(tmp_path):
    with pytest.raises(GtlocError) as info:
        FeatureStore.open(tmp_path)
    assert str(info.value) == (
        f"no feature cache in {tmp_path}: manifest.json not found (make one with `gtloc features`)"
    )


def test_a_deleted_shard_is_reported(photos, tmp_path):
    root, names = photos
    out = tmp_path / "feats"
    extract_features(names, root, TinyBackbone(), out, shard_size=4, progress=False)
    (out / "shard-00001.safetensors").unlink()
    with pytest.raises(GtlocError) as info:
        FeatureStore.open(out)
    assert str(info.value) == (
        f"feature cache {out} is damaged: shard-00001.safetensors (listed in manifest.json) is missing; "
        "delete the directory and run `gtloc features` again"
    )


def test_cli_features_with_the_default_backbone(photos, tmp_path, monkeypatch, capsys):
    root, names = photos
    paths = [*names[:3], "notes.jpg"]
    records = Records(paths=paths, latlon=np.full((4, 2), 10.0), times=np.full((4, 5), np.nan))
    write_records(records, tmp_path / "records.csv")
    out = tmp_path / "feats"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys,
        "features", "--records", str(tmp_path / "records.csv"), "--images", str(root), "--out", str(out),
        "--eager", "--no-progress", "--batch-size", "2",
    )  # fmt: skip
    assert code == 0
    # a small set: the network's features and the photometric statistics, ten crops per picture
    assert stdout == (
        f"3 of 4 images have efficientnet-lite0+photometric features (1326-d, ten-crop, torch on cpu) in {out}\n"
    )
    assert stderr == (f"1 image could not be read (listed in {out / 'failed.csv'}):\n  notes.jpg: {NOT_AN_IMAGE}\n")
    assert FeatureStore.open(out).load(names[:3]).shape == (3, 10, 1326)


def test_cli_unknown_backbone(photos, tmp_path, monkeypatch, capsys):
    root, names = photos
    records = Records(paths=names[:1], latlon=np.full((1, 2), 10.0), times=np.full((1, 5), np.nan))
    write_records(records, tmp_path / "records.csv")
    code, _, stderr = run_cli(
        monkeypatch, capsys,
        "features", "--records", str(tmp_path / "records.csv"), "--images", str(root),
        "--out", str(tmp_path / "feats"), "--backbone", "vit-huge",
    )  # fmt: skip
    assert code == 2
    assert stderr == (
        "error: unknown backbone 'vit-huge'; available: clip-vit-l-14, clip-vit-l-14+photometric, efficientnet-lite0, "
        "efficientnet-lite0+photometric, photometric\n"
    )


def test_cli_features_keep_the_crops_of_an_existing_cache(photos, tmp_path, monkeypatch, capsys):
    """Ten crops and the photometric statistics are the default for a small set, but a cache is continued with the
    backbone and crops it was made with."""
    import gtloc.backbones
    from helpers.toydata import ToyBackbone

    asked = []
    monkeypatch.setattr(gtloc.backbones, "load_backbone", lambda name, **options: asked.append(name) or ToyBackbone())
    root, names = photos
    out = tmp_path / "feats"
    for count, extra in ((1, ("--no-tencrop",)), (3, ())):
        records = Records(paths=names[:count], latlon=np.full((count, 2), 10.0), times=np.full((count, 5), np.nan))
        write_records(records, tmp_path / "records.csv")
        args = ("features", "--records", tmp_path / "records.csv", "--images", root, "--out", out, "--no-progress")
        code, stdout, _ = run_cli(monkeypatch, capsys, *args, *extra)
        assert code == 0 and "ten-crop" not in stdout
    assert FeatureStore.open(out).load(names[:3]).shape == (3, 96)
    code, stdout, _ = run_cli(monkeypatch, capsys, *args[:-3], "--out", tmp_path / "new", "--no-progress")
    assert code == 0 and "(96-d, ten-crop," in stdout
    assert asked == ["efficientnet-lite0+photometric", "toy", "efficientnet-lite0+photometric"]
