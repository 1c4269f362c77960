"""Shoots built from real packaged photos, so culling tests know the right answer.

A burst is N frames of one scene a few pixels apart (hand shake between frames), one
of them sharp and the others shaken (motion blur) or defocused (gaussian), written as
JPEGs with camera-like EXIF 0.2-0.5 s apart; scenes are minutes apart. A stripped copy
of a shoot has no metadata at all and one shared mtime, like messaging-app copies.

:func:`facts_of` gives a frame's real culling facts (faces left out: tests that need
faces write them into the facts dict).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin

from tests.helpers.photos import SKLEARN_IMAGES, load_rgb

EXIF_IFD = 0x8769
START = datetime(2026, 5, 1, 10, 0, 0)
FLOWER = SKLEARN_IMAGES / "flower.jpg"  # CC BY 2.0, like china.jpg


def photo(name: str) -> np.ndarray:
    """A packaged photo as uint8 RGB ("flower" is scikit-learn's second image)."""
    if name == "flower":
        with Image.open(FLOWER) as image:
            return np.asarray(image.convert("RGB"))
    return load_rgb(name)


# --- degradations --------------------------------------------------------------------

def shifted(rgb: np.ndarray, dx: int, dy: int, margin: int = 8) -> np.ndarray:
    """The frame a few pixels off: a crop moved by (dx, dy) within a fixed margin."""
    h, w = rgb.shape[:2]
    return rgb[margin + dy:h - margin + dy, margin + dx:w - margin + dx]


def shaken(rgb: np.ndarray, length: int = 15, angle_deg: float = 30.0) -> np.ndarray:
    """Camera shake: a straight motion-blur kernel ``length`` px long."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(rgb, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def defocused(rgb: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def exposed(rgb: np.ndarray, factor: float) -> np.ndarray:
    """The same light scaled by ``factor`` in linear light (x0.25 is -2 EV), clipped."""
    linear = (rgb.astype(np.float32) / 255.0) ** 2.2 * factor
    return (np.clip(linear, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


def with_noise(rgb: np.ndarray, seed: int, sigma: float = 2.0) -> np.ndarray:
    """Sensor noise, so that no two frames are bit-identical."""
    noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(rgb.astype(np.float32) + noise, 0, 255).astype(np.uint8)


# --- writing frames --------------------------------------------------------------------

@dataclass(frozen=True)
class Camera:
    make: str = "Canon"
    model: str = "Canon EOS R6"
    shutter_s: float = 1 / 500
    aperture_f: float = 4.0
    iso: int = 400
    focal_length_mm: float = 50.0


def exif_bytes(taken: datetime, camera: Camera, bias_ev: float = 0.0,
               shutter_s: float | None = None) -> bytes:
    """Camera-like EXIF: IFD0 make/model; Exif IFD with DateTimeOriginal, its
    sub-seconds (hundredths), the exposure and ExposureBiasValue as a rational."""
    exif = Image.Exif()
    exif[0x010F] = camera.make
    exif[0x0110] = camera.model
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9291] = f"{taken.microsecond // 10_000:02d}"
    shutter = Fraction(shutter_s or camera.shutter_s).limit_denominator(100_000)
    sub[0x829A] = TiffImagePlugin.IFDRational(shutter.numerator, shutter.denominator)
    sub[0x829D] = TiffImagePlugin.IFDRational(int(camera.aperture_f * 10), 10)
    sub[0x8827] = camera.iso
    sub[0x920A] = TiffImagePlugin.IFDRational(int(camera.focal_length_mm * 10), 10)
    bias = Fraction(bias_ev).limit_denominator(6)
    sub[0x9204] = TiffImagePlugin.IFDRational(bias.numerator, bias.denominator)
    return exif.tobytes()


@dataclass
class Shoot:
    """Frames written so far, in capture (= file) order, and the groups they should form."""

    folder: Path
    paths: list[Path] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)  # expected, as file names
    roles: dict[str, str] = field(default_factory=dict)  # file name -> sharp/shaken/...
    clock: datetime = START
    camera: Camera = field(default_factory=Camera)

    def write(self, rgb: np.ndarray, role: str, *, bias_ev: float = 0.0,
              shutter_s: float | None = None, exif: bool = True) -> Path:
        path = self.folder / f"IMG_{len(self.paths) + 1:04d}.jpg"
        params = {"quality": 92}
        if exif:
            params["exif"] = exif_bytes(self.clock, self.camera, bias_ev, shutter_s)
        Image.fromarray(rgb).save(path, **params)
        self.paths.append(path)
        self.roles[path.name] = role
        return path

    def wait(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def names(self, start: int) -> list[str]:
        return [p.name for p in self.paths[start:]]


def new_shoot(folder: Path, camera: Camera | None = None) -> Shoot:
    folder.mkdir(parents=True, exist_ok=True)
    return Shoot(folder=folder, camera=camera or Camera())


BURST_ROLES = ("shaken", "defocused", "sharp", "shaken", "defocused")
SPACING_S = (0.3, 0.2, 0.5, 0.4, 0.3, 0.25, 0.35)  # frame gaps cycle through these


def add_burst(shoot: Shoot, name: str, roles=BURST_ROLES, *, seed: int = 0,
              exposure: dict[int, float] | None = None, group: bool = True) -> list[str]:
    """Frames of one scene, a few px apart, 0.2-0.5 s apart. ``roles`` per frame:
    "sharp", "shaken", "defocused". ``exposure`` scales chosen frames' light
    (index -> factor: 0.25 is 2 EV darker)."""
    base = photo(name)
    rng = np.random.default_rng(seed)
    start = len(shoot.paths)
    for i, role in enumerate(roles):
        dx, dy = (int(v) for v in rng.integers(-4, 5, 2))
        frame = shifted(base, dx, dy)
        if role == "shaken":
            frame = shaken(frame, angle_deg=float(rng.uniform(0, 180)))
        elif role == "defocused":
            frame = defocused(frame)
        if exposure and i in exposure:
            frame = exposed(frame, exposure[i])
        if i:
            shoot.wait(SPACING_S[(i + seed) % len(SPACING_S)])
        shoot.write(with_noise(frame, seed * 100 + i), role)
    if group:
        shoot.groups.append(shoot.names(start))
    return shoot.names(start)


def add_bracket(shoot: Shoot, name: str, evs=(0.0, -2.0, 2.0), spacing_s: float = 0.2) -> list[str]:
    """An exposure bracket (camera order 0/-/+): the same frame at x2^ev light, the
    shutter scaled to match, ExposureBiasValue set."""
    base = shifted(photo(name), 0, 0)
    start = len(shoot.paths)
    for i, ev in enumerate(evs):
        if i:
            shoot.wait(spacing_s)
        shoot.write(with_noise(exposed(base, 2.0 ** ev), 50 + i), f"ev{ev:+g}", bias_ev=ev,
                    shutter_s=shoot.camera.shutter_s * 2.0 ** ev)
    shoot.groups.append(shoot.names(start))
    return shoot.names(start)


def add_single(shoot: Shoot, name: str, *, role: str = "sharp") -> list[str]:
    frame = shifted(photo(name), 0, 0)
    if role == "shaken":
        frame = shaken(frame, length=21)
    elif role == "defocused":
        frame = defocused(frame, sigma=4.0)
    shoot.write(with_noise(frame, 7), role)
    shoot.groups.append([shoot.paths[-1].name])
    return [shoot.paths[-1].name]


def add_panorama(shoot: Shoot, name: str = "china", frames: int = 3, width: float = 0.5,
                 step: float = 0.25, spacing_s: float = 0.8) -> list[str]:
    """A handheld pan: crops ``width`` of the photo wide, each ``step`` further right
    (half of each frame overlaps the last), same exposure."""
    base = photo(name)
    w = base.shape[1]
    start = len(shoot.paths)
    for k in range(frames):
        left = round(k * step * w)
        if k:
            shoot.wait(spacing_s)
        shoot.write(with_noise(base[:, left:left + round(width * w)], 60 + k), f"pan{k}")
    shoot.groups.append(shoot.names(start))
    return shoot.names(start)


def add_focus_stack(shoot: Shoot, name: str = "coffee", sigma: float = 4.0,
                    spacing_s: float = 0.3) -> list[str]:
    """Same framing and exposure; the in-focus band moves from the top third to the bottom."""
    base = shifted(photo(name), 0, 0)
    soft = defocused(base, sigma)
    h = base.shape[0]
    start = len(shoot.paths)
    for k in range(3):
        frame = soft.copy()
        frame[k * h // 3:(k + 1) * h // 3] = base[k * h // 3:(k + 1) * h // 3]
        if k:
            shoot.wait(spacing_s)
        shoot.write(with_noise(frame, 70 + k), f"focus{k}")
    shoot.groups.append(shoot.names(start))
    return shoot.names(start)


def two_scenes_and_a_single(folder: Path) -> Shoot:
    """Burst of the cat, three minutes later a burst of the coffee, then a single."""
    shoot = new_shoot(folder)
    add_burst(shoot, "chelsea", seed=1)
    shoot.wait(180)
    add_burst(shoot, "coffee", roles=("sharp", "shaken", "defocused", "shaken"), seed=2)
    shoot.wait(240)
    add_single(shoot, "china")
    return shoot


def stripped_copy(shoot: Shoot, dest: Path, mtime: float = 1_780_000_000.0) -> Shoot:
    """The same frames with every bit of metadata gone and one shared mtime."""
    dest.mkdir(parents=True, exist_ok=True)
    copy = Shoot(folder=dest, groups=[list(g) for g in shoot.groups], roles=dict(shoot.roles))
    for path in shoot.paths:
        with Image.open(path) as image:
            target = dest / path.name
            image.convert("RGB").save(target, quality=92)
        os.utime(target, (mtime, mtime))
        copy.paths.append(target)
    return copy


def copy_file(path: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(path, dest))


# --- facts ---------------------------------------------------------------------------------

ANALYSIS_SIDE = 720  # the analysis size scoring decodes to; facts are computed on it


def facts_of(path: Path) -> dict:
    """The real culling facts of one photo (culling/facts.py) without faces, plus its path."""
    from critique_app.core.culling.facts import FaceSetup, frame_facts
    from critique_app.core.photo import load_photo

    facts = frame_facts(load_photo(path, max_side=ANALYSIS_SIDE), path,
                        face_setup=FaceSetup(None, None, "faces-none"))
    return {**facts, "path": str(path)}


# --- synthetic facts (ranking tests that need faces, eyes or scores) -----------------------

def fake_frame(number: int, *, t: float | None = 1000.0, ev: float = 0.0, sharp: float = 0.5,
               faces: list[dict] | None = None, score: float | None = None,
               bias: float | None = 0.0) -> dict:
    """Facts of frame ``number`` of one near-identical burst, 0.3 s apart: same look, the
    given exposure, sharpness (every grid cell), faces and score."""
    rng = np.random.default_rng(0)
    thumb = rng.normal(size=256)
    thumb -= thumb.mean()
    return {
        "path": f"/shoot/IMG_{number:04d}.jpg",
        "exif_time": None if t is None else t + 0.3 * number,
        "file_time": 0.0, "camera": "Canon EOS R6", "exposure_bias_ev": bias,
        "shutter_s": 1 / 500, "aperture_f": 4.0, "iso": 400, "focal_length_mm": 50.0,
        "width": 6000, "height": 4000, "phash": "a5a5a5a5a5a5a5a5", "colour": [0.0] * 42,
        "thumb": list(thumb / np.linalg.norm(thumb)), "embedding": None,
        "exposure": {"ev": ev, "highlights_pct": 0.0, "shadows_pct": 0.0},
        "sharpness": {"global": sharp, "subject": sharp, "grid": [sharp] * 9},
        "faces": {"method": "mediapipe", "note": "", "faces": faces or []},
        "score": score,
    }


def fake_face(openness: float | None, *, box=(0.4, 0.3, 0.6, 0.6), sharpness: float | None = 0.5,
              why: str = "") -> dict:
    """A face whose two eyes measure ``openness`` (None: not visible, ``why``)."""
    visible = openness is not None
    eyes = [{"side": side, "openness": openness, "visible": visible, "why": why}
            for side in ("left", "right")]
    return {"box": list(box), "confidence": 0.9, "sharpness": sharpness,
            "sharpness_px": 160, "eyes": eyes}
