"""GeoCLIP's pretrained weights (shipped inside the ``geoclip`` wheel) -> an image->GPS gtloc run directory.

The wheel's ``geoclip/model/weights/`` holds three files, read with ``torch.load(weights_only=True)``:

* ``location_encoder_weights.pth``: ``LocEnc{0,1,2}.capsule.{0.b,1,3,5}`` / ``head.0`` -> ``location_encoder.*``;
* ``image_encoder_mlp_weights.pth``: ``0.weight/bias`` (768 -> 768), ``2.weight/bias`` (768 -> 512) ->
  ``image_encoder.mlp.*``, over CLIP ViT-L/14's 768-d projected image features;
* ``logit_scale_weights.pth``: one scalar (the log of the image-GPS scale) -> ``img_gps_logit_scale``.

GeoCLIP has no time encoder: the run dir's config says ``has_time_encoder: false`` and it predicts places only.
The wheel is found with ``importlib.util.find_spec`` and never imported (its pins conflict with ours).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

from gtloc.errors import GtlocError
from gtloc.interop.common import (
    ImportReport,
    check_run_dir,
    encoder_shape,
    require,
    safe_torch_load,
    save_run_dir,
)
from gtloc.interop.released import CLIP_BACKBONE
from gtloc.model.config import LOGIT_SCALE_NAMES, GTLocConfig
from gtloc.model.gtloc import GTLoc

LOCATION_FILE = "location_encoder_weights.pth"
IMAGE_MLP_FILE = "image_encoder_mlp_weights.pth"
LOGIT_SCALE_FILE = "logit_scale_weights.pth"
INSTALL_HINT = "install GeoCLIP's wheel without its pinned dependencies: pip install --no-deps geoclip==1.3.0"


def geoclip_weights_dir() -> Path:
    """``geoclip/model/weights`` of the installed wheel (found without importing ``geoclip``)."""
    spec = importlib.util.find_spec("geoclip")
    if spec is None or spec.origin is None:
        raise GtlocError(f"the geoclip package is not installed; {INSTALL_HINT}")
    weights = Path(spec.origin).parent / "model" / "weights"
    if not weights.is_dir():
        raise GtlocError(f"no weights folder in the installed geoclip package ({weights}); {INSTALL_HINT}")
    return weights


def _state(path: Path) -> dict[str, torch.Tensor]:
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise GtlocError(f"{path}: expected a state dict of tensors, found a {type(obj).__name__}")
    return obj


def _logit_scale(path: Path) -> torch.Tensor:
    obj = safe_torch_load(path)
    if isinstance(obj, dict) and len(obj) == 1:
        obj = next(iter(obj.values()))
    if not isinstance(obj, torch.Tensor) or obj.numel() != 1:
        raise GtlocError(f"{path}: expected one scalar tensor (the log logit scale), found {obj!r:.80}")
    return obj.reshape(()).float()


def _clip_feature_dim(clip_path: str | Path) -> int:
    """CLIP's ``projection_dim`` from ``clip_path/config.json`` (the size of its projected image features)."""
    config = Path(clip_path) / "config.json"
    try:
        return int(json.loads(config.read_text())["projection_dim"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GtlocError(f"{config}: not a CLIP save_pretrained config with a projection_dim ({exc})") from None


def geoclip_to_gtloc(weights_dir: str | Path | None = None) -> tuple[GTLoc, ImportReport]:
    """Build an image->GPS :class:`GTLoc` (no time encoder) from GeoCLIP's three weight files."""
    weights = Path(weights_dir) if weights_dir is not None else geoclip_weights_dir()
    location = _state(weights / LOCATION_FILE)
    mlp = _state(weights / IMAGE_MLP_FILE)
    scale = _logit_scale(weights / LOGIT_SCALE_FILE)
    source = str(weights / LOCATION_FILE)
    loc = encoder_shape(location, "LocEnc", "1", source)
    w0 = require(mlp, "0.weight", str(weights / IMAGE_MLP_FILE), 2)
    config = GTLocConfig(
        backbone=CLIP_BACKBONE,
        has_time_encoder=False,
        feature_dim=int(w0.shape[1]),
        embed_dim=loc.out_dim,
        image_hidden_dim=int(w0.shape[0]),
        encoder_hidden_dim=loc.hidden_dim,
        rff_dim=loc.rff_dim,
        location_sigmas=loc.sigmas,
        logit_scale_max=max(100.0, float(scale.exp())),
    )
    model = GTLoc(config)
    report = ImportReport(source=str(weights))
    converted: dict[str, torch.Tensor] = {}
    for prefix, part, file in (
        ("location_encoder.", location, LOCATION_FILE),
        ("image_encoder.mlp.", mlp, IMAGE_MLP_FILE),
    ):
        for key, tensor in part.items():
            converted[prefix + key] = tensor
            report.loaded[prefix + key] = f"{file}:{key}"
    converted["img_gps_logit_scale"] = scale
    report.loaded["img_gps_logit_scale"] = LOGIT_SCALE_FILE
    own = model.state_dict()
    for key in own:
        why = _why_filled(key)
        if key not in converted and why is not None:
            converted[key] = own[key]
            report.filled[key] = why
    model.load_weights(converted, source=f"GeoCLIP weights in {weights}")
    report.notes.append("image->GPS only: GeoCLIP has no time encoder, so this run dir predicts places only")
    return model.eval(), report


def _why_filled(key: str) -> str | None:
    """What a gtloc tensor that GeoCLIP does not have holds; ``None`` if GeoCLIP must supply it."""
    if key.startswith("image_encoder.feature_"):
        return "identity standardisation (GeoCLIP feeds CLIP features to the MLP as they are)"
    if key in LOGIT_SCALE_NAMES:
        return "initial value log(1/0.07); unused (GeoCLIP has only the image-GPS scale)"
    if key.startswith(("gps_queue.", "time_queue.")):
        return "empty queue (the wheel ships no queue)"
    return None


def import_geoclip(
    out_dir: str | Path,
    *,
    clip_path: str | Path | None = None,
    weights_dir: str | Path | None = None,
    overwrite: bool = False,
) -> ImportReport:
    """Write an image->GPS gtloc run dir from GeoCLIP's weights (default: those of the installed wheel).

    ``clip_path``: a local ``save_pretrained`` copy of openai/clip-vit-large-patch14 recorded as the backbone
    (its ``projection_dim`` must fit the MLP); ``None`` leaves the backbone to the Hugging Face cache.
    """
    out_dir = check_run_dir(out_dir, overwrite)
    model, report = geoclip_to_gtloc(weights_dir)
    if clip_path is not None:
        feature_dim = _clip_feature_dim(clip_path)
        if feature_dim != model.config.feature_dim:
            raise GtlocError(
                f"the CLIP at {clip_path} gives {feature_dim}-d features; "
                f"GeoCLIP's MLP expects {model.config.feature_dim}"
            )
        model.config.backbone_path = str(Path(clip_path).resolve())
    else:
        report.notes.append("no local CLIP copy given: the backbone loads from the Hugging Face cache (HF_HUB_CACHE)")
    weights = Path(weights_dir) if weights_dir is not None else geoclip_weights_dir()
    save_run_dir(
        model,
        out_dir,
        report,
        [weights / name for name in (LOCATION_FILE, IMAGE_MLP_FILE, LOGIT_SCALE_FILE)],
        "GeoCLIP's training photos (real Flickr photos, MP-16; not shipped with the wheel): unknown to gtloc",
    )
    return report
