"""Sharded feature extraction: N workers' directories, merged, equal one run; mixing setups is refused."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import gtloc.backbones
from gtloc.backbones.extract import extract_features
from gtloc.data.features import FeatureStore, merge_feature_dirs, select_shard
from gtloc.data.formats import unreadable_advice
from gtloc.data.schema import Records, write_records
from gtloc.errors import GtlocError
from gtloc.model.config import GalleryConfig
from gtloc.training.data import load_training_data
from gtloc.training.loop import train
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, render_toy_world, tiny_train_config, toy_records

NOT_AN_IMAGE = f"not an image file ({unreadable_advice('notes.jpg')})"

N = 48


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    """A toy world of 48 pictures plus a broken one, extracted once in one run and once by two workers."""
    root = tmp_path_factory.mktemp("shards")
    toy = toy_records(N)
    render_toy_world(root / "world", toy)
    (root / "world" / "broken.png").write_bytes(b"not a picture")
    records = Records(
        [*toy.paths, "broken.png"], np.vstack([toy.latlon, [[10.0, 20.0]]]), np.vstack([toy.times, toy.times[:1]])
    )
    records_csv = root / "world" / "records.csv"
    write_records(records, records_csv)
    single = extract_features(records, root / "world", ToyBackbone(), root / "single", shard_size=7, progress=False)
    shards = []
    for i in range(2):
        out = root / f"part-{i}"
        kwargs = {"shard_size": 7, "progress": False, "shard_index": i, "num_shards": 2}
        shards.append(extract_features(records, root / "world", ToyBackbone(), out, **kwargs))
    return {"root": root, "records": records_csv, "paths": records.paths, "single": single, "shards": shards}


def test_two_workers_split_the_records_without_overlap(toy):
    a, b = (set(store.paths) | set(store.failed) for store in toy["shards"])
    assert a and b and not a & b
    assert a | b == set(toy["paths"])


def test_two_shards_merged_equal_one_run(toy, tmp_path):
    merged = merge_feature_dirs([toy["root"] / "part-0", toy["root"] / "part-1"], tmp_path / "merged")
    single = toy["single"]
    assert sorted(merged.paths) == sorted(single.paths) and len(merged) == len(single) == N
    assert torch.equal(merged.load(single.paths), single.load())
    assert merged.failed == single.failed == {"broken.png": NOT_AN_IMAGE}
    assert merged.identity() == single.identity()
    assert [Path(s).name for s in merged.sources] == ["part-0", "part-1"]
    manifest = json.loads((tmp_path / "merged" / "manifest.json").read_text())
    assert all(shard["file"].startswith("../") for shard in manifest["shards"])  # relative: the dirs can move together


def test_a_list_of_directories_is_read_like_the_merge(toy):
    both = FeatureStore.open([toy["root"] / "part-0", toy["root"] / "part-1"])
    assert torch.equal(both.load(toy["single"].paths), toy["single"].load())
    assert both.failed == toy["single"].failed


def test_training_on_the_shards_equals_training_on_one_run(toy, tmp_path):
    parts = [toy["root"] / "part-0", toy["root"] / "part-1"]
    from_shards = load_training_data(parts, toy["records"], log=lambda _: None)
    from_single = load_training_data(toy["root"] / "single", toy["records"], log=lambda _: None)
    assert from_shards.paths == from_single.paths and torch.equal(from_shards.features, from_single.features)
    config = tiny_train_config(epochs=1, batch_size=16)
    a = train(from_shards, tmp_path / "a", config, progress=False)
    b = train(from_single, tmp_path / "b", config, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_cli_predict_reads_several_feature_directories(toy, tmp_path, monkeypatch, capsys):
    gallery = tmp_path / "gallery.csv"
    gallery.write_text("lat,lon\n48.85,2.35\n40.71,-74.0\n-33.87,151.21\n35.68,139.69\n")
    config = tiny_train_config(epochs=1, batch_size=16)
    config = replace(config, model=replace(config.model, gallery=GalleryConfig(gps=str(gallery), time_days_step=30)))
    data = load_training_data(toy["root"] / "single", toy["records"], log=lambda _: None)
    train(data, tmp_path / "run", config, progress=False)
    parts = [toy["root"] / "part-0", toy["root"] / "part-1"]
    predict = ("predict", "--checkpoint", tmp_path / "run", "--show", 0, "--no-progress", "--records", toy["records"])
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, _, _ = run_cli(monkeypatch, capsys, *predict, "--features", parts[0], "--features", parts[1], "--out", a)
    assert code == 0
    code, _, _ = run_cli(monkeypatch, capsys, *predict, "--features", toy["root"] / "single", "--out", b)
    assert code == 0
    assert a.read_text() == b.read_text() and len(a.read_text().splitlines()) == N + 1


def test_the_split_does_not_depend_on_row_order():
    paths = [f"img/{i}.jpg" for i in range(500)]
    shuffled = random.Random(1).sample(paths, len(paths))
    parts = [select_shard(paths, i, 3) for i in range(3)]
    assert [sorted(select_shard(shuffled, i, 3)) for i in range(3)] == [sorted(p) for p in parts]
    assert sorted(p for part in parts for p in part) == sorted(paths)
    assert all(130 < len(part) < 200 for part in parts)
    assert select_shard(paths, 0, 1) == paths


@pytest.mark.parametrize("index, count", [(2, 2), (-1, 2), (0, 0)])
def test_a_bad_shard_index_is_refused(index, count):
    with pytest.raises(GtlocError, match=rf"shard {index} of {count}: need num_shards >= 1"):
        select_shard(["a"], index, count)


def test_resuming_a_directory_with_another_shard_is_refused(toy):
    with pytest.raises(GtlocError, match=r"holds shard 0 of 2, this run asks for shard 1 of 2"):
        extract_features(
            toy["paths"], toy["root"] / "world", ToyBackbone(), toy["root"] / "part-0", progress=False,
            shard_index=1, num_shards=2,
        )  # fmt: skip
    with pytest.raises(GtlocError, match=r"holds shard 0 of 1, this run asks for shard 0 of 2"):
        extract_features(
            toy["paths"], toy["root"] / "world", ToyBackbone(), toy["root"] / "single", progress=False, num_shards=2
        )


class OtherToy(ToyBackbone):
    weights_id = "toy-other-weights"


def test_merging_features_of_different_setups_is_refused(toy, tmp_path):
    extract_features(toy["paths"][:4], toy["root"] / "world", OtherToy(), tmp_path / "other", progress=False)
    with pytest.raises(GtlocError, match=r"cannot merge feature caches .*part-0 and .*other: .*weights"):
        merge_feature_dirs([toy["root"] / "part-0", tmp_path / "other"], tmp_path / "merged")
    with pytest.raises(GtlocError, match=r"cannot merge"):
        FeatureStore.open([toy["root"] / "part-0", tmp_path / "other"])
    assert not (tmp_path / "merged").exists()


def test_a_merge_is_neither_a_source_nor_an_extraction_target(toy, tmp_path):
    parts = [toy["root"] / "part-0", toy["root"] / "part-1"]
    with pytest.raises(GtlocError, match=r"cannot also be one of the directories merged"):
        merge_feature_dirs(parts, parts[0])
    with pytest.raises(GtlocError, match=r"holds extracted features, not a merge"):
        merge_feature_dirs(parts, toy["root"] / "single")
    merge_feature_dirs(parts, tmp_path / "merged")
    merge_feature_dirs(parts, tmp_path / "merged")  # merging again replaces the earlier merge
    with pytest.raises(GtlocError, match=r"is a merge of other feature directories"):
        extract_features(toy["paths"], toy["root"] / "world", ToyBackbone(), tmp_path / "merged", progress=False)


def test_cli_sharded_features_then_merge(toy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gtloc.backbones, "load_backbone", lambda name, **options: ToyBackbone())
    outs = [tmp_path / f"w{i}" for i in range(2)]
    for i, out in enumerate(outs):
        code, stdout, _ = run_cli(
            monkeypatch, capsys, "features", "--records", toy["records"], "--images", toy["root"] / "world",
            "--out", out, "--shard-index", i, "--num-shards", 2, "--no-progress", "--no-tencrop",
        )  # fmt: skip
        store = toy["shards"][i]
        share = len(store) + len(store.failed)
        assert code == 0
        assert stdout.startswith(f"{len(store)} of {share} images (shard {i} of 2) have toy features")
    code, stdout, _ = run_cli(monkeypatch, capsys, "features-merge", *outs, "--out", tmp_path / "all")
    assert code == 0 and stdout == f"{N} images with toy features from 2 directories -> {tmp_path / 'all'} (1 failed)\n"
    assert torch.equal(FeatureStore.open(tmp_path / "all").load(toy["single"].paths), toy["single"].load())
