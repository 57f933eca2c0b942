"""Images without torchvision: decode with Pillow, resize, crop, ten-crop, and convert to tensors.

Every transform takes and returns a ``PIL.Image.Image`` in RGB mode; ``to_tensor`` turns one into a
``(3, H, W)`` float32 tensor in ``[0, 1]``. Geometry follows torchvision's conventions (crop offsets,
ten-crop order) so features match models trained with it.

Memory is bounded per image, whatever the file says: :func:`load_image` reads the header first and decodes at
most ``MAX_PIXELS`` pixels (a larger JPEG is decoded at 1/2, 1/4 or 1/8 scale by the codec itself; any other
larger image is refused), and :func:`resize_shorter` refuses a result whose longer side would exceed
``MAX_ASPECT`` times the requested shorter side (a 1 x 20,000 strip resized to 256 would be 256 x 5,120,000).
Both refusals raise :class:`ImageTooLargeError` before any large buffer is allocated.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gtloc.data.formats import MAX_PIXELS, is_raw, raw_advice, register_formats, unreadable_advice
from gtloc.errors import GtlocError

if TYPE_CHECKING:
    import torch

register_formats()
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # MAX_PIXELS is the stricter rule
RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
MAX_ASPECT = 32
"""The longest an image's longer side may be, in multiples of its shorter side, to be resized."""
STRIP_ROWS = 256


class ImageDecodeError(GtlocError):
    """One image could not be read: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageDecodeError):
    """An image whose decoding or resizing would need memory out of proportion to the network input."""


class PathOutsideRootError(ImageDecodeError):
    """A listed image path that resolves (``..``, an absolute path, a symlink) outside the folder it must be in."""


def image_file(root: str | os.PathLike[str] | None, path: str, allow_outside: bool = False) -> Path:
    """The file of the listed image ``path`` under ``root``, resolved (symlinks included) and checked to be inside.

    Raises ``PathOutsideRootError`` for a path that leaves ``root`` unless ``allow_outside``. With ``root`` None
    the path is taken as given (the caller named the file itself).
    """
    if root is None:
        return Path(path)
    base = Path(root).resolve()
    resolved = (base / path).resolve()
    if not allow_outside and not resolved.is_relative_to(base):
        raise PathOutsideRootError(
            path, f"it resolves to {resolved}, outside the image folder {base} (allow_outside=True reads it anyway)"
        )
    return resolved


def _check_shape(path: str | os.PathLike[str], width: int, height: int) -> None:
    """Refuse (``ImageTooLargeError``) a ``width x height`` image that ``MAX_ASPECT`` rules out, or an empty one."""
    if width < 1 or height < 1:
        raise ImageDecodeError(path, f"it has no pixels ({width} x {height})")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageTooLargeError(
            path,
            f"{width} x {height} pixels: the longer side is more than {MAX_ASPECT} times the shorter, "
            "so resizing it would need memory out of proportion to the network input",
        )


def _decode_bounded(path: str | os.PathLike[str], opened: Image.Image) -> None:
    """Decode ``opened`` in place with at most ``MAX_PIXELS`` pixels (JPEG: reduced by the codec) or refuse it."""
    width, height = opened.size
    _check_shape(path, width, height)
    if width * height > MAX_PIXELS and opened.format == "JPEG":
        scale = next((s for s in (2, 4, 8) if (width // s) * (height // s) <= MAX_PIXELS), 8)
        opened.draft(opened.mode, (width // scale, height // scale))
    if opened.size[0] * opened.size[1] > MAX_PIXELS:
        raise ImageTooLargeError(
            path, f"{width} x {height} pixels is more than the {MAX_PIXELS:,} that are decoded (MAX_PIXELS)"
        )
    opened.load()


def _gray_to_rgb(image: Image.Image, top: float) -> Image.Image:
    """A 16-bit, 32-bit integer or float gray image -> 8-bit RGB, ``top`` mapping to 255."""
    values = np.asarray(image, dtype=np.float64)
    gray = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def _on_white(image: Image.Image) -> Image.Image:
    """An image with transparency (or a palette) -> RGB with transparent pixels put on white."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _by_strips(image: Image.Image, convert: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """``convert`` applied to bands of ``STRIP_ROWS`` rows (a per-pixel conversion): temporaries stay strip-sized."""
    out = Image.new("RGB", image.size)
    for top in range(0, image.height, STRIP_ROWS):
        out.paste(convert(image.crop((0, top, image.width, min(image.height, top + STRIP_ROWS)))), (0, top))
    return out


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Transparent pixels are put on white; 16-bit and float are rescaled.

    Peak memory: the source, the RGB result, and one strip's temporaries.
    """
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        high = float(image.getextrema()[1])
        if image.mode == "F":
            top = 1.0 if max(high, 0.0) <= 1.0 else 255.0
        else:
            top = 65535.0 if image.mode != "I" or max(high, 0.0) > 255 else 255.0
        return _by_strips(image, lambda strip: _gray_to_rgb(strip, top))
    if image.mode in ("P", "RGBA", "LA", "PA", "RGBa", "La"):
        return _by_strips(image, _on_white)
    return image.convert("RGB")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully into an upright 8-bit RGB image (EXIF orientation applied).

    Raises ``ImageDecodeError`` naming the file for a missing, non-image, truncated or corrupt file, and its
    subclass ``ImageTooLargeError`` for one that cannot be processed in bounded memory (see the module doc).
    HEIC/HEIF is read like JPEG; a camera RAW file is refused with what to do instead (:mod:`gtloc.data.formats`).
    """
    if is_raw(path):
        raise ImageDecodeError(path, raw_advice(path))
    try:
        with open(path, "rb") as handle:  # closing our handle, not the image, keeps its pixels without a copy
            opened = Image.open(handle)
            _decode_bounded(path, opened)
            ImageOps.exif_transpose(opened, in_place=True)
            return _to_rgb(opened)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        raise ImageDecodeError(path, f"file not found (looked in {folder})") from None
    except IsADirectoryError:
        raise ImageDecodeError(path, "is a directory, not an image file") from None
    except UnidentifiedImageError:
        why = unreadable_advice(path)
        raise ImageDecodeError(path, why if is_raw(path) else f"not an image file ({why})") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(path, f"too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(path, f"truncated or corrupt image data ({exc})") from None


def open_photo(photo: str | os.PathLike[str] | Image.Image) -> Image.Image:
    """A photo given as a file (decoded by :func:`load_image`) or as a PIL image, as upright 8-bit RGB."""
    return _to_rgb(photo) if isinstance(photo, Image.Image) else load_image(photo)


def resize_shorter(image: Image.Image, size: int, interpolation: str = "bilinear") -> Image.Image:
    """Resize so the shorter side is ``size`` pixels, keeping the aspect ratio (antialiased).

    Raises ``ImageTooLargeError`` for an image longer than ``MAX_ASPECT`` times its shorter side.
    """
    width, height = image.size
    _check_shape(f"<{width} x {height} image>", width, height)
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
    import torch  # here, not at the top: decoding a photo (the evidence checks, EXIF) needs no torch

    array = np.asarray(_to_rgb(image), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
