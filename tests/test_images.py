"""Image decoding and transforms without torchvision: modes, EXIF orientation, crops, bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.data.formats import unreadable_advice
from gtloc.data.images import (
    ImageDecodeError,
    center_crop,
    five_crop,
    horizontal_flip,
    load_image,
    resize_shorter,
    ten_crop,
    to_tensor,
)
from gtloc.errors import GtlocError

NOT_AN_IMAGE = f"not an image file ({unreadable_advice('notes.jpg')})"


def _ramp(width: int, height: int) -> Image.Image:
    """An RGB image whose pixels are all different (so crops can be located exactly)."""
    values = np.arange(width * height * 3, dtype=np.int64).reshape(height, width, 3) % 251
    return Image.fromarray(values.astype(np.uint8))


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    pixels[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    image = load_image(path)
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 200 and top[2] < 60  # the left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda: Image.new("L", (6, 4), 128)),
        ("1", lambda: Image.new("1", (6, 4), 1)),
        ("P", lambda: Image.new("RGB", (6, 4), (10, 200, 30)).convert("P")),
        ("LA", lambda: Image.new("LA", (6, 4), (128, 255))),
        ("RGBA", lambda: Image.new("RGBA", (6, 4), (10, 200, 30, 255))),
        ("CMYK", lambda: Image.new("CMYK", (6, 4), (0, 0, 0, 0))),
        ("I;16", lambda: Image.new("I;16", (6, 4), 65535)),
    ],
)
def test_any_mode_decodes_to_rgb(tmp_path, mode, make):
    image = make()
    assert image.mode == mode
    fmt, suffix = ("TIFF", ".tif") if mode in ("CMYK", "I;16") else ("PNG", ".png")
    path = tmp_path / f"image{suffix}"
    image.save(path, fmt)
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.size == (6, 4)


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path):
    values = np.array([[0, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "depth.png"
    Image.fromarray(values).save(path)
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 128, 255]


def test_transparency_goes_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (3, 3), (255, 0, 0, 0)).save(path)
    assert np.asarray(load_image(path))[1, 1].tolist() == [255, 255, 255]


def test_truncated_jpeg_gives_a_per_file_error(tmp_path):
    data = _encoded(_ramp(32, 32), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == f"cannot read image {path}: truncated or corrupt image data (Truncated File Read)"
    assert info.value.path == str(path) and isinstance(info.value, GtlocError)


def test_truncated_png_gives_a_per_file_error(tmp_path):
    data = _encoded(_ramp(32, 32), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == f"cannot read image {path}: truncated or corrupt image data (image file is truncated)"


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo\n")
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == f"cannot read image {path}: {NOT_AN_IMAGE}"
    assert info.value.reason == NOT_AN_IMAGE


def test_missing_file(tmp_path):
    path = tmp_path / "gone.jpg"
    with pytest.raises(ImageDecodeError) as info:
        load_image(path)
    assert str(info.value) == f"cannot read image {path}: file not found (looked in {tmp_path})"


def test_resize_shorter_keeps_aspect():
    assert resize_shorter(_ramp(100, 50), 25).size == (50, 25)
    assert resize_shorter(_ramp(30, 90), 20).size == (20, 60)
    assert resize_shorter(_ramp(300, 256), 256).size == (300, 256)


def test_center_crop_matches_array_slicing():
    image = _ramp(10, 7)
    expected = np.asarray(image)[2:6, 3:7]  # torchvision: top=round(1.5)=2, left=round(3.0)=3
    assert np.array_equal(np.asarray(center_crop(image, 4)), expected)


def test_five_and_ten_crop_order():
    image = _ramp(9, 8)
    array = np.asarray(image)
    crops = [np.asarray(c) for c in five_crop(image, 4)]
    assert np.array_equal(crops[0], array[:4, :4])
    assert np.array_equal(crops[1], array[:4, 5:])
    assert np.array_equal(crops[2], array[4:, :4])
    assert np.array_equal(crops[3], array[4:, 5:])
    assert np.array_equal(crops[4], array[2:6, 2:6])
    ten = ten_crop(image, size=4, resize=8)
    assert len(ten) == 10 and all(c.size == (4, 4) for c in ten)
    for k in range(5):
        assert np.array_equal(np.asarray(ten[5 + k]), np.asarray(ten[k])[:, ::-1])


def test_ten_crop_resizes_shorter_side_first():
    crops = ten_crop(_ramp(400, 300), size=224, resize=256)
    assert [c.size for c in crops] == [(224, 224)] * 10


def test_horizontal_flip():
    image = _ramp(5, 3)
    assert np.array_equal(np.asarray(horizontal_flip(image)), np.asarray(image)[:, ::-1])


def test_to_tensor_is_float_chw_in_unit_range():
    tensor = to_tensor(Image.new("RGB", (5, 3), (255, 0, 51)))
    assert tensor.dtype == torch.float32 and tensor.shape == (3, 3, 5)
    assert tensor[:, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
