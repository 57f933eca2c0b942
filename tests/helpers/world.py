"""The toy world every stage test shares: pictures + records, their feature cache, a tiny model and its gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gtloc.backbones.extract import extract_features
from gtloc.data.schema import Records, load_records, write_records
from gtloc.inference.predictor import Predictor
from gtloc.model.config import GalleryConfig, GTLocConfig
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.image_gallery import ImageGallery, build_image_gallery
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import load_training_data
from gtloc.training.loop import train
from helpers.toydata import ToyBackbone, make_toy_dataset, render_toy_world, tiny_train_config

N_PICTURES = 160


def tiny_config(gps_gallery: str = "mp16", **overrides) -> GTLocConfig:
    """A small untrained GT-Loc over :class:`ToyBackbone` features (32-d embeddings, a monthly x hourly grid) whose GPS
    gallery is ``gps_gallery``; ``overrides`` set any other field (another backbone, ``feature_dim``, ``seed``)."""
    values = dict(
        backbone=ToyBackbone.name,
        feature_dim=ToyBackbone.feature_dim,
        embed_dim=32,
        image_hidden_dim=32,
        encoder_hidden_dim=32,
        rff_dim=16,
        queue_size=8,
        gallery=GalleryConfig(gps=gps_gallery, time="grid", time_days_step=30, time_minutes_step=60),
    )
    return GTLocConfig(**{**values, **overrides})


def build_world(root: Path) -> dict:
    """The toy world under ``root``: ``N_PICTURES`` pictures + records, a feature cache, a tiny untrained checkpoint
    whose GPS gallery is the pictures' places, and an image gallery of the pictures indexed with it.

    Keys: ``root``, ``records`` (CSV), ``images`` (the pictures' root), ``features`` (the cache), ``run`` (the
    checkpoint), ``model``, ``gallery_dir`` and ``gallery`` (:class:`ImageGallery`).
    """
    images = root / "world"
    records_path = make_toy_dataset(images, N_PICTURES)
    (root / "places.csv").write_text(records_path.read_text())
    model = GTLoc(tiny_config(gps_gallery=str(root / "places.csv")))
    model.save_pretrained(root / "run")
    extract_features(load_records(records_path), images, ToyBackbone(), root / "features", progress=False)
    result = build_image_gallery(
        model, root / "gallery", records=records_path, features_dir=root / "features", checkpoint=root / "run"
    )
    return {
        "root": root,
        "records": records_path,
        "images": images,
        "features": root / "features",
        "run": root / "run",
        "model": model,
        "gallery_dir": root / "gallery",
        "gallery": result.gallery,
    }


def build_toy_run(root: Path, world: dict) -> dict:
    """A tiny GT-Loc trained on the toy ``world`` (:func:`build_world`; 3 epochs, a quarter of the pictures held out
    to calibrate on) in ``root/run``: model, training state, log, calibration, domain profile, model card, training
    neighbours and the galleries it encoded (the 100,000-place GPS gallery and the time grid).

    Keys: ``run``, and the world's ``records``, ``images`` and ``features``.
    """
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=32, embed_dim=32, queue_size=64, rff_dim=16)
    config = TrainConfig(epochs=3, batch_size=32, warmup_steps=3, val_split=0.25, model=model)
    train(load_training_data(world["features"], world["records"]), root / "run", config, progress=False)
    return {"run": root / "run", **{key: world[key] for key in ("records", "images", "features")}}


def plant_embeddings(model: GTLoc, gallery: ImageGallery) -> ImageGallery:
    """A copy whose picture embeddings are exactly ``normalise(location + time)`` of each picture's labels, as a
    perfectly trained ``gt2i`` term would put them: composed queries must then find each picture first."""
    with torch.inference_mode():
        emb = F.normalize(model.encode_location(gallery.latlon) + model.encode_time(gallery.times), dim=-1)
    return ImageGallery(
        gallery.paths, gallery.features, emb, gallery.latlon, gallery.times, gallery.images_root, gallery.meta
    )


def tiny_predictor(model: GTLoc, gallery: ImageGallery) -> Predictor:
    """A predictor whose GPS gallery is the gallery pictures' places, reading pictures with :class:`ToyBackbone`."""
    return Predictor(model, gps_gallery=gallery.latlon, backbone=ToyBackbone())


WEBCAMS = ((59.91, 10.75), (48.85, 2.35))
"""Oslo and Paris: the two fixed cameras of :func:`build_webcam_run`."""


def build_webcam_run(root: Path, n: int = 120, epochs: int = 30) -> dict:
    """A toy run trained on two fixed webcams (:data:`WEBCAMS`, ``n`` toy pictures at every time of year and day,
    a quarter held out for calibration) whose GPS gallery is 2,000 random places plus the pictures' own: a model
    that is sure where its pictures come from, as one trained on the user's own webcams is.

    Keys: ``root``, ``records``, ``images``, ``features``, ``run``, ``paths`` (the pictures' files).
    """
    rng = np.random.default_rng(0)
    latlon = np.array(WEBCAMS)[rng.integers(0, len(WEBCAMS), n)] + rng.normal(0, 0.01, (n, 2))
    columns = [rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(0, 24, n), rng.integers(0, 60, n)]
    times = np.stack([*columns, np.zeros(n)], axis=1).astype(float)
    records = Records([f"cam/{i:04d}.png" for i in range(n)], latlon.round(5), times)
    images = root / "world"
    render_toy_world(images, records)
    write_records(records, images / "records.csv")
    gallery = np.concatenate([np.stack([rng.uniform(-60, 70, 2000), rng.uniform(-180, 180, 2000)], axis=1), latlon])
    (root / "places.csv").write_text("lat,lon\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in gallery))
    extract_features(load_records(images / "records.csv"), images, ToyBackbone(), root / "features", progress=False)
    model = small_model_config(
        encoder_hidden_dim=32,
        image_hidden_dim=32,
        embed_dim=32,
        rff_dim=16,
        queue_size=64,
        gallery=GalleryConfig(gps=str(root / "places.csv"), time="grid", time_days_step=30, time_minutes_step=60),
    )
    config = tiny_train_config(model=model, val_split=0.25, epochs=epochs, adapt_to_data=True)
    train(load_training_data(root / "features", images / "records.csv"), root / "run", config, progress=False)
    return {
        "root": root,
        "records": images / "records.csv",
        "images": images,
        "features": root / "features",
        "run": root / "run",
        "paths": [images / p for p in records.paths],
    }
