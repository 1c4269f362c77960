"""The scene of real photos: the kinds, the light and the evidence, with and without labels.

Photos: scikit-image (rocket at blue hour on its lit pad, the Hubble deep field, the
astronaut, the coffee cup), scikit-learn (china: a temple on a hill under a daylight
sky) and matplotlib (grace_hopper: a studio portrait on a dark ground). Darkened
versions are the same light scaled in linear light, as a shorter exposure gives.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.measurements.exposure import srgb_to_linear
from critique_app.core.photo import load_photo
from critique_app.core.photo.decoded import ExifSummary
from critique_app.core.scene import KINDS, Scene, recognise_scene, scene_for
from critique_app.core.scene.kinds import NO_LABELS
from tests.helpers.photos import PHOTOS, SKIMAGE_DATA, SKLEARN_IMAGES, load_rgb

DARK_SCENES = ("night", "blue-hour", "low-key", "astro")


def _matplotlib_photo(name: str) -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.origin:
        pytest.skip("matplotlib (a dev dependency) is not installed")
    return Path(spec.origin).parent / "mpl-data" / "sample_data" / name


def photo_path(name: str) -> Path:
    extra = {"hubble": SKIMAGE_DATA / "hubble_deep_field.jpg", "moon": SKIMAGE_DATA / "moon.png",
             "flower": SKLEARN_IMAGES / "flower.jpg"}
    if name == "grace_hopper":
        return _matplotlib_photo("grace_hopper.jpg")
    return extra.get(name) or PHOTOS[name]


_analyses: dict = {}


def analysed(name: str, darker: float = 1.0):
    """The photo analysed (no depth), optionally with its light divided by ``darker``."""
    key = (name, darker)
    if key not in _analyses:
        photo = load_photo(photo_path(name))
        if darker != 1.0:
            photo = dataclasses.replace(photo, pixels=_darkened(photo.pixels, darker))
        _analyses[key] = analyze(photo, depth=False)
    return _analyses[key]


def _darkened(pixels: np.ndarray, factor: float) -> np.ndarray:
    linear = srgb_to_linear(pixels.astype(np.float64)) / factor
    encoded = np.where(linear <= 0.0031308, 12.92 * linear,
                       1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return encoded.astype(np.float32)


def cue_texts(scene: Scene, kind: str) -> str:
    return " | ".join(c.text for c in scene.kind(kind).cues)


# --- without labels: measurements and EXIF alone -----------------------------------------

def test_rocket_on_its_lit_pad_is_blue_hour_with_the_lamps_as_a_cue():
    scene = recognise_scene(analysed("rocket"), None)
    assert scene.has("blue-hour") or scene.has("night"), scene.lines()
    assert scene.light in ("blue hour", "night")
    kind = "blue-hour" if scene.has("blue-hour") else "night"
    assert "point light sources" in cue_texts(scene, kind)
    assert "deep blue" in cue_texts(scene, "blue-hour")  # the twilight sky
    assert scene.labels is None and scene.note == NO_LABELS


def test_hubble_deep_field_is_astro():
    scene = recognise_scene(analysed("hubble"), None)
    assert scene.has("astro"), scene.lines()
    assert scene.kinds[0].name == "astro" and scene.light == "night"
    assert "point light sources spread over" in cue_texts(scene, "astro")


def test_china_is_a_landscape_under_a_daylight_sky():
    scene = recognise_scene(analysed("china"), None)
    assert scene.has("landscape"), scene.lines()
    assert scene.light == "daylight"
    assert "bright, smooth sky" in cue_texts(scene, "landscape")
    assert not any(scene.has(kind) for kind in DARK_SCENES)


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_faces_make_portraits(name):
    scene = recognise_scene(analysed(name), None)
    assert scene.has("portrait"), scene.lines()
    assert "a face" in cue_texts(scene, "portrait")
    assert not scene.has("landscape")


def test_grace_hopper_on_her_dark_ground_is_low_key_not_night():
    scene = recognise_scene(analysed("grace_hopper"), None)
    assert scene.has("low-key") and not scene.has("night") and not scene.has("blue-hour")


@pytest.mark.parametrize("name", ["china", "coffee"])
@pytest.mark.parametrize("darker", [8, 16])
def test_darkened_daylight_photos_are_not_dark_scenes(name, darker):
    """1/8 and 1/16 of the light: dark frames, but nothing in them comes near white."""
    scene = recognise_scene(analysed(name, darker), None)
    assert not any(scene.has(kind) for kind in DARK_SCENES), scene.lines()
    assert scene.light not in ("night", "blue hour", "low-key")
    assert any("underexposed frame" in cue.text for cue in scene.against), scene.against


def test_a_few_small_lamps_in_the_dark_are_not_an_underexposed_frame():
    """Lamps covering under 0.5% of a dark frame leave its headroom low; they still count."""
    photo = load_photo(photo_path("rocket"))
    pixels = _darkened(photo.pixels, 16)
    for x in range(40, 600, 70):  # eight 3 px lamps along a dark row
        pixels[395:398, x:x + 3] = 1.0
    scene = recognise_scene(analyze(dataclasses.replace(photo, pixels=pixels), depth=False),
                            None)
    assert not any("underexposed" in cue.text for cue in scene.against), scene.against
    assert "8 point light sources" in cue_texts(scene, "night")


def test_plain_and_tiny_frames_read_without_failing():
    from critique_app.core.analysis.analyzer import Analysis
    from critique_app.core.photo.decoded import Photo

    for shape in [(1, 1, 3), (2, 3, 3), (5, 400, 3)]:
        for value in (0.0, 0.5, 1.0):
            pixels = np.full(shape, value, np.float32)
            photo = Photo(path=Path("plain.png"), format="PNG",
                          original_size=(shape[1], shape[0]), pixels=pixels)
            scene = recognise_scene(Analysis(photo, {}, {}), None)
            assert not scene.has("night") and not scene.has("portrait")


@pytest.mark.parametrize("name", ["chelsea", "coffee", "flower", "moon", "camera"])
def test_lit_photos_are_no_dark_scene(name):
    scene = recognise_scene(analysed(name), None)
    assert not any(scene.has(kind) for kind in DARK_SCENES), scene.lines()


# --- EXIF --------------------------------------------------------------------------------

def _with_exif(tmp_path: Path, name: str, *, shutter_s: float, iso: int,
               aperture_f: float | None = None, flash: int | None = None) -> Path:
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    shutter = Fraction(shutter_s).limit_denominator(100_000)
    sub[0x829A] = TiffImagePlugin.IFDRational(shutter.numerator, shutter.denominator)
    sub[0x8827] = iso
    if aperture_f:
        sub[0x829D] = TiffImagePlugin.IFDRational(round(aperture_f * 10), 10)
    if flash is not None:
        sub[0x9209] = flash
    path = tmp_path / f"{name}.jpg"
    Image.fromarray(load_rgb(name)).save(path, quality=95, exif=exif.tobytes())
    return path


def test_a_night_exposure_in_exif_is_a_cue(tmp_path):
    path = _with_exif(tmp_path, "rocket", shutter_s=1 / 4, iso=3200, aperture_f=2.8)
    analysis = analyze(path, depth=False)
    assert analysis.photo.exif.shutter_s == pytest.approx(0.25)
    scene = recognise_scene(analysis, None)
    assert scene.has("night") and scene.has("blue-hour")
    exif_cues = [c.text for c in scene.kind("night").cues if c.source == "exif"]
    assert exif_cues == ["1/4 s at f/2.8, ISO 3200 (EV100 0.0): a night-time or dim light "
                         "level"]


def test_slow_shutter_at_high_iso_without_the_aperture_is_a_cue(tmp_path):
    analysis = analyze(_with_exif(tmp_path, "rocket", shutter_s=1 / 4, iso=3200), depth=False)
    scene = recognise_scene(analysis, None)
    assert any(c.source == "exif" and c.text.startswith("1/4 s, ISO 3200")
               for c in scene.kind("night").cues)


def test_a_daylight_exposure_in_exif_rules_the_dark_readings_out():
    daylight = ExifSummary(shutter_s=1 / 500, aperture_f=8.0, iso=100)  # EV100 15
    scene = recognise_scene(analysed("rocket"), None, daylight)
    assert not scene.has("blue-hour") and not scene.has("night")
    assert any(c.source == "exif" and "a daylight exposure" in c.text for c in scene.against)


def test_the_flash_is_read_from_exif(tmp_path):
    path = _with_exif(tmp_path, "coffee", shutter_s=1 / 60, iso=200, aperture_f=4.0, flash=0x19)
    analysis = analyze(path, depth=False)
    assert analysis.photo.exif.flash_fired is True
    assert recognise_scene(analysis, None).light == "flash"
    unfired = _with_exif(tmp_path, "chelsea", shutter_s=1 / 60, iso=200, flash=0x10)
    assert load_photo(unfired).exif.flash_fired is False


def test_a_long_exposure_in_bright_light_is_intentional_motion():
    nd_filter = ExifSummary(shutter_s=30.0, aperture_f=16.0, iso=100)  # EV100 3: ND filter
    scene = recognise_scene(analysed("china"), None, nd_filter)
    assert scene.kind("intentional-motion") is not None
    bright = ExifSummary(shutter_s=2.0, aperture_f=22.0, iso=100)  # EV100 8
    assert recognise_scene(analysed("china"), None, bright).kind("intentional-motion")


# --- the Scene itself ----------------------------------------------------------------------

def test_scene_as_dict_and_lines():
    scene = recognise_scene(analysed("rocket"), None)
    data = scene.as_dict()
    assert set(data) == {"kinds", "light", "light_cues", "against", "labels", "note"}
    assert data["kinds"][0]["name"] in KINDS and 0 <= data["kinds"][0]["confidence"] <= 1
    assert {c["source"] for k in data["kinds"] for c in k["cues"]} <= {"labels",
                                                                     "measurements", "exif"}
    assert scene.summary() == "blue-hour 0.67; light: blue hour"
    lines = scene.lines()
    assert lines[0] == "Light: blue hour" and lines[1].startswith("Blue hour (0.")
    assert lines[-1].startswith("No ImageNet labels")
    with pytest.raises(ValueError, match="unknown scene kind"):
        scene.has("sunset")


def test_without_the_classifier_the_scene_says_so():
    """The isolated home has no models: scene_for reads no labels and says why."""
    scene = scene_for(analysed("china"))
    assert scene.labels is None and "not installed" in scene.note
    assert scene.has("landscape")


def test_a_broken_classifier_leaves_the_scene_without_labels(monkeypatch):
    import critique_app.core.scene.labels as labels

    monkeypatch.setattr(labels, "imagenet_labels", _raise)
    scene = scene_for(analysed("rocket"))
    assert scene.labels is None and "the classifier failed (OSError: damaged)" in scene.note
    assert scene.has("blue-hour")


def _raise(*_args, **_kwargs):
    raise OSError("damaged")


# --- with the ImageNet labels (the real Lite0 backbone, installed offline from its wheel) --

@pytest.mark.slow
@pytest.mark.parametrize(("name", "kind"), [
    ("china", "landscape"), ("china", "architecture"), ("coffee", "still-life"),
    ("astronaut", "portrait"), ("grace_hopper", "portrait"), ("flower", "macro"),
    ("rocket", "blue-hour"), ("hubble", "astro"),
])
def test_with_labels(lite0_store, name, kind):
    scene = scene_for(analysed(name), lite0_store)
    assert scene.labels and scene.note is None
    assert scene.has(kind), scene.lines()
    if kind in ("landscape", "architecture", "still-life", "macro"):
        assert "ImageNet: '" in cue_texts(scene, kind) and "%" in cue_texts(scene, kind)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["china", "coffee"])
def test_with_labels_darkened_daylight_is_still_no_dark_scene(lite0_store, name):
    scene = scene_for(analysed(name, 16), lite0_store)
    assert not any(scene.has(kind) for kind in DARK_SCENES), scene.lines()


@pytest.mark.slow
def test_the_rockets_pad_labels_make_no_astro(lite0_store):
    """'missile', 'projectile', 'space shuttle' on a lit pad: not a night sky."""
    scene = scene_for(analysed("rocket"), lite0_store)
    assert {"missile", "projectile"} & {name for name, _ in scene.labels}
    assert not scene.has("astro")


@pytest.mark.slow
def test_labels_are_computed_once_per_photo(lite0_store, monkeypatch):
    """The scene and the critique both ask for the labels: the classifier runs once."""
    import critique_app.core.scene.labels as labels

    analysis = analysed("chelsea")
    runs = []
    classify = labels._classify
    monkeypatch.setattr(labels, "_classify", lambda *a: runs.append(1) or classify(*a))
    pixels = analysis.photo.pixels.copy()  # a new array: nothing remembered for it yet
    first = labels.imagenet_labels(pixels, lite0_store, top=3)
    again = labels.imagenet_labels(pixels, lite0_store, top=5)
    assert runs == [1] and again[:3] == first and "cat" in first[0][0]
