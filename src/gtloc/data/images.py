"""Images without torchvision: decode with Pillow, resize, crop, ten-crop, and convert to tensors.

Every transform takes and returns a ``PIL.Image.Image`` in RGB mode; ``to_tensor`` turns one into a
``(3, H, W)`` float32 tensor in ``[0, 1]``. Geometry follows torchvision's conventions (crop offsets,
ten-crop order) so features match models trained with it.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from gtloc.errors import GtlocError

RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageDecodeError(GtlocError):
    """One image could not be read: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Transparent pixels are put on white; 16-bit and float are rescaled."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        else:
            top = 65535.0 if image.mode != "I" or values.max(initial=0.0) > 255 else 255.0
        gray = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully into an upright 8-bit RGB image (EXIF orientation applied).

    Raises ``ImageDecodeError`` naming the file for a missing, non-image, truncated or corrupt file.
    """
    try:
        with Image.open(path) as opened:
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            return _to_rgb(upright).copy()
    except FileNotFoundError:
        raise ImageDecodeError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageDecodeError(path, "is a directory, not an image file") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(path, "not an image file (Pillow cannot identify its format)") from None
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(path, f"too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(path, f"truncated or corrupt image data ({exc})") from None


def open_photo(photo: str | os.PathLike[str] | Image.Image) -> Image.Image:
    """A photo given as a file (decoded by :func:`load_image`) or as a PIL image, as upright 8-bit RGB."""
    return _to_rgb(photo) if isinstance(photo, Image.Image) else load_image(photo)


def resize_shorter(image: Image.Image, size: int, interpolation: str = "bilinear") -> Image.Image:
    """Resize so the shorter side is ``size`` pixels, keeping the aspect ratio (antialiased)."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if short == size:
        return image
    new_long = int(size * long / short)
    new_size = (size, new_long) if width <= height else (new_long, size)
    return image.resize(new_size, RESAMPLE[interpolation])


def crop(image: Image.Image, top: int, left: int, height: int, width: int) -> Image.Image:
    """The ``height x width`` window whose top-left corner is at (``top``, ``left``); zero-padded outside."""
    return image.crop((left, top, left + width, top + height))


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The central ``size x size`` window (zero-padded if the image is smaller)."""
    width, height = image.size
    top = round((height - size) / 2.0)
    left = round((width - size) / 2.0)
    return crop(image, top, left, size, size)


def horizontal_flip(image: Image.Image) -> Image.Image:
    """Mirror left-right."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def five_crop(image: Image.Image, size: int) -> list[Image.Image]:
    """Top-left, top-right, bottom-left, bottom-right and center ``size x size`` crops."""
    width, height = image.size
    return [
        crop(image, 0, 0, size, size),
        crop(image, 0, width - size, size, size),
        crop(image, height - size, 0, size, size),
        crop(image, height - size, width - size, size, size),
        center_crop(image, size),
    ]


def ten_crop(
    image: Image.Image, size: int = 224, resize: int = 256, interpolation: str = "bilinear"
) -> list[Image.Image]:
    """Test-time augmentation: shorter side to ``resize``, five ``size`` crops, then the same five mirrored.

    Returns 10 images in torchvision's TenCrop order (4 corners + center, then their flips).
    """
    crops = five_crop(resize_shorter(image, resize, interpolation), size)
    return crops + [horizontal_flip(c) for c in crops]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB image -> ``(3, H, W)`` float32 tensor with values in ``[0, 1]``."""
    array = np.asarray(_to_rgb(image), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
