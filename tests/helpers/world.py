"""The toy world every stage test shares: pictures + records, their feature cache, a tiny model and its gallery."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from gtloc.backbones.extract import extract_features
from gtloc.data.schema import load_records
from gtloc.inference.predictor import Predictor
from gtloc.model.config import GalleryConfig, GTLocConfig
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.image_gallery import ImageGallery, build_image_gallery
from helpers.toydata import ToyBackbone, make_toy_dataset

N_PICTURES = 160


def tiny_config(gps_gallery: str = "mp16") -> GTLocConfig:
    """A small untrained GT-Loc over :class:`ToyBackbone` features (32-d embeddings, a monthly x hourly grid)."""
    return GTLocConfig(
        backbone=ToyBackbone.name,
        feature_dim=ToyBackbone.feature_dim,
        embed_dim=32,
        image_hidden_dim=32,
        encoder_hidden_dim=32,
        rff_dim=16,
        queue_size=8,
        gallery=GalleryConfig(gps=gps_gallery, time="grid", time_days_step=30, time_minutes_step=60),
    )


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
