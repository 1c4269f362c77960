"""Every supported format, bit depth and pixel mode loads to the same upright sRGB pixels."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from critique_app.core.photo import load_photo
from tests.helpers.photos import load_rgb, save_rgb


@pytest.fixture(scope="module")
def chelsea():
    return load_rgb("chelsea")


@pytest.mark.parametrize(
    ("suffix", "params", "tolerance"),
    [
        (".jpg", {"quality": 95}, 0.02),
        (".png", {}, 0.0),
        (".tif", {}, 0.0),
        (".webp", {"quality": 95}, 0.03),
        (".bmp", {}, 0.0),
        (".heic", {"quality": 95}, 0.03),
        (".avif", {"quality": 95}, 0.03),
    ],
)
def test_formats_load_to_the_same_pixels(tmp_path, chelsea, suffix, params, tolerance):
    path = save_rgb(chelsea, tmp_path / f"cat{suffix}", **params)
    photo = load_photo(path)
    assert photo.size == (451, 300)
    assert photo.pixels.dtype == np.float32 and photo.pixels.shape == (300, 451, 3)
    difference = np.abs(photo.pixels - chelsea / 255.0).mean()
    assert difference <= tolerance + 1e-6


def test_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((200, 30, 30), (30, 30, 200))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    photo = load_photo(path)
    red, _, blue = photo.pixels.reshape(-1, 3).mean(axis=0)
    assert red > 0.7 and blue < 0.2
    assert any("frames" in note for note in photo.notes)


def test_16bit_rgb_tiff_keeps_its_precision(tmp_path, chelsea):
    deep = chelsea.astype(np.uint16) * 257 + 77  # low byte carries information
    path = tmp_path / "deep.tif"
    tifffile.imwrite(path, deep, photometric="rgb")
    photo = load_photo(path)
    assert photo.bit_depth == 16
    assert np.abs(photo.pixels - deep / 65535.0).max() < 1e-5  # 8 bits would be off by 77/65535


def test_16bit_grey_png(tmp_path, chelsea):
    grey = (chelsea.mean(axis=2) * 257).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)
    photo = load_photo(path)
    assert photo.bit_depth == 16
    assert np.allclose(photo.pixels[..., 0], photo.pixels[..., 2])
    assert np.abs(photo.pixels[..., 1] - grey / 65535.0).max() < 1e-5


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path, chelsea):
    path = tmp_path / "print.jpg"
    Image.fromarray(chelsea).convert("CMYK").save(path, quality=95)
    photo = load_photo(path)
    assert photo.pixels.shape == (300, 451, 3)
    assert np.abs(photo.pixels - chelsea / 255.0).mean() < 0.05


def test_palette_and_alpha_are_composited_on_white(tmp_path, chelsea):
    rgba = np.dstack([chelsea, np.full(chelsea.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0  # fully transparent corner
    path = save_rgb(rgba, tmp_path / "alpha.png")
    photo = load_photo(path)
    assert np.allclose(photo.pixels[:50, :50], 1.0)
    assert any("transparent" in note for note in photo.notes)

    palette_path = tmp_path / "palette.png"
    Image.fromarray(chelsea).convert("P", palette=Image.Palette.ADAPTIVE).save(palette_path)
    assert np.abs(load_photo(palette_path).pixels - chelsea / 255.0).mean() < 0.03


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_grey_modes_become_rgb(tmp_path, chelsea, mode):
    path = tmp_path / f"grey-{mode}.png"
    Image.fromarray(chelsea).convert(mode).save(path)
    photo = load_photo(path)
    assert photo.pixels.shape == (300, 451, 3)
    assert np.allclose(photo.pixels[..., 0], photo.pixels[..., 1])


def test_big_jpeg_is_draft_decoded_to_analysis_size(tmp_path, chelsea):
    big = Image.fromarray(chelsea).resize((6000, 4000), Image.Resampling.BICUBIC)
    path = tmp_path / "24mp.jpg"
    big.save(path, quality=90)
    photo = load_photo(path)
    assert photo.original_size == (6000, 4000)
    assert photo.decode_scale == 0.25  # libjpeg decoded 1500x1000, never 24 MP
    assert photo.size == (1280, 853)
    small_truth = np.asarray(big.resize((1280, 853), Image.Resampling.BOX)) / 255.0
    assert np.abs(photo.pixels - small_truth).mean() < 0.02


def test_camera_jpeg_with_embedded_preview_is_draft_decoded(tmp_path, chelsea):
    """Cameras add a preview picture (Multi-Picture Format) to their JPEGs; Pillow then
    opens them as MPO. The photo itself must still be draft-decoded like any JPEG."""
    big = Image.fromarray(chelsea).resize((3000, 2000), Image.Resampling.BICUBIC)
    preview = big.resize((1616, 1077))
    camera_file, plain_file = tmp_path / "DSC00001.JPG", tmp_path / "plain.jpg"
    big.save(camera_file, format="MPO", save_all=True, append_images=[preview], quality=90)
    big.save(plain_file, quality=90)
    with Image.open(camera_file) as opened:
        assert opened.format == "MPO" and opened.n_frames == 2

    photo = load_photo(camera_file)
    assert photo.format == "JPEG" and photo.notes == []
    assert photo.decode_scale == 0.5 and photo.size == (1280, 853)
    assert np.array_equal(photo.pixels, load_photo(plain_file).pixels)  # the same main picture
