"""The cheap extra measurements a scene is read from, on the analysis-size pixels (a few ms).

Tone: the luminance key (median, dark and bright shares) and the headroom (how near white
the brightest pixels come: a dark scene with lights reaches white, an underexposed frame
does not). Point light sources: small bright blobs whose surroundings are dark (lamps,
stars). The sky band: the top of the frame when it is smooth, with its brightness and
colour. The light's colour: the mean of linear light, blue against red. Faces (OpenCV's
Haar cascade, the culling's own detector) for portraits.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from critique_app.core.faces.haar import haar_faces
from critique_app.core.measurements.exposure import srgb_to_linear
from critique_app.core.photo.decoded import to_uint8

DARK_LEVEL = 0.10  # luma (sRGB-encoded) under which a pixel reads as near black
BRIGHT_LEVEL = 0.80  # luma over which a pixel reads as near white
HEADROOM_SHARE = 0.995  # the headroom is this quantile of luma: the brightest 0.5%
# Point light sources: a pixel this bright (luma; lamps and stars clip or nearly) ...
POINT_PEAK = 0.80
# ... standing on a background this dark (the frame opened by a POINT_SIZE disc) ...
POINT_SURROUND = 0.20
POINT_SIZE = 9  # px at the analysis size: blobs narrower than this are "points"
# ... in a blob covering at most this share of the frame (a lamp, a star; not a window) ...
POINT_MAX_AREA = 0.001
# ... whose neighbourhood (POINT_CONTEXT px box mean) is dark too: a lamp in the night, not
# a button on a dark coat in a lit room (grace_hopper's medals: 101 blobs, 7 left; the
# rocket's pad lamps: 13, 11 left; the Hubble field: 302, all left).
POINT_CONTEXT = 31
POINT_CONTEXT_LUMA = 0.25
SKY_BAND = 0.25  # the top quarter of the frame is where a sky would be
# A band pixel is smooth where |Laplacian| of the lightly blurred luma is under this share
# of the band's mean (+0.05): skies measured 91-96% smooth (rocket between its towers,
# china), a person's head and hat in the band 71% (grace_hopper).
SKY_SMOOTHNESS = 0.04
CLIPPED = 0.95  # linear value above which a channel is clipped (left out of the light's colour)
# Cues are read at up to this long side (px): the packaged photos' own size, where the
# sizes below were set; a 1280 px analysis is read at half size in ~40 ms, not ~100
WORK_SIDE = 640


@dataclass(frozen=True)
class Sky:
    """The top band of the frame: a sky or not, the rules decide from these."""

    luma: float  # mean luma of the band's smooth pixels
    rgb: tuple[float, float, float]  # their mean sRGB colour
    smooth_share: float  # of the band
    below: float  # mean luma of the frame under the band

    @property
    def blueness(self) -> float:
        """Blue over red of the band (sRGB): 0.2 is a clear blue."""
        return self.rgb[2] - self.rgb[0]

    @property
    def warmth(self) -> float:
        return self.rgb[0] - self.rgb[2]


@dataclass(frozen=True)
class Cues:
    median: float  # luma
    dark_share: float  # of the frame under DARK_LEVEL
    bright_share: float  # over BRIGHT_LEVEL
    headroom: float  # luma of the brightest 0.5%
    point_lights: int  # small bright blobs on a dark background
    point_cells: int  # how many cells of a 4x4 grid hold one (spread over the frame)
    sky: Sky
    blue_red: float  # mean linear blue / mean linear red, clipped pixels left out
    subject_luma: float | None  # median luma in the subject box
    surround_luma: float | None  # median luma outside it
    faces: tuple[tuple[float, float], ...]  # (face width / frame width, rough confidence)


def measure_cues(pixels: np.ndarray, subject_box=None) -> Cues:
    """Scene cues of float RGB pixels in [0, 1] (the analysis size: up to 1280 px, read at
    up to WORK_SIDE; point lights keep their peaks through the reduction)."""
    pixels, peaks = _working(pixels)
    luma = _luma(pixels)
    width = luma.shape[1]
    few = luma[::2, ::2]
    median, headroom = np.quantile(few, [0.5, HEADROOM_SHARE])
    lights, cells = _point_lights(peaks if peaks is not None else luma)
    inside, outside = _subject_split(luma, subject_box)
    return Cues(
        median=float(median),
        dark_share=float((few < DARK_LEVEL).mean()),
        bright_share=float((few > BRIGHT_LEVEL).mean()),
        headroom=float(headroom),
        point_lights=lights,
        point_cells=cells,
        sky=_sky(pixels, luma),
        blue_red=_blue_red(pixels[::4, ::4]),  # a mean colour needs few pixels
        subject_luma=inside,
        surround_luma=outside,
        faces=_faces(pixels, width),
    )


def _luma(pixels: np.ndarray) -> np.ndarray:
    return cv2.transform(pixels, np.array([[0.2126, 0.7152, 0.0722]], np.float32)
                         ).reshape(pixels.shape[:2])


def _working(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The pixels reduced by a whole factor to at most WORK_SIDE on the long side, and
    for point lights the luma reduced by taking each block's brightest pixel (a star one
    pixel wide would fade in an average); (pixels, None) when no reduction is needed."""
    height, width = pixels.shape[:2]
    factor = -(-max(height, width) // WORK_SIDE)
    if factor <= 1:
        return pixels, None
    rows, cols = height // factor, width // factor
    small = cv2.resize(pixels[:rows * factor, :cols * factor], (cols, rows),
                       interpolation=cv2.INTER_AREA)
    luma = _luma(pixels[:rows * factor, :cols * factor])
    peaks = luma.reshape(rows, factor, cols, factor).max(axis=(1, 3))
    return small, peaks


def _point_lights(luma: np.ndarray) -> tuple[int, int]:
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (POINT_SIZE, POINT_SIZE))
    background = cv2.morphologyEx(luma, cv2.MORPH_OPEN, disc)
    mask = ((luma > POINT_PEAK) & (background < POINT_SURROUND)).astype(np.uint8)
    _, _, stats, centres = cv2.connectedComponentsWithStats(mask)
    small = stats[1:, cv2.CC_STAT_AREA] <= max(4, POINT_MAX_AREA * luma.size)
    points = centres[1:][small]
    if len(points) == 0:
        return 0, 0
    context = cv2.blur(luma, (POINT_CONTEXT, POINT_CONTEXT))
    height, width = luma.shape
    xs = np.clip(points[:, 0].astype(int), 0, width - 1)
    ys = np.clip(points[:, 1].astype(int), 0, height - 1)
    points = points[context[ys, xs] < POINT_CONTEXT_LUMA]
    grid = {(int(4 * x / width), int(4 * y / height)) for x, y in points}
    return len(points), len(grid)


def _sky(pixels: np.ndarray, luma: np.ndarray) -> Sky:
    rows = max(2, round(luma.shape[0] * SKY_BAND))
    band = cv2.GaussianBlur(luma[:rows], (0, 0), 1.0)
    edges = np.abs(cv2.Laplacian(band, cv2.CV_32F))
    smooth = edges < SKY_SMOOTHNESS * (float(band.mean()) + 0.05)
    chosen = pixels[:rows][smooth] if smooth.sum() >= 16 else pixels[:rows].reshape(-1, 3)
    rgb = tuple(round(float(v), 3) for v in chosen.mean(axis=0))
    below = float(luma[rows:].mean()) if rows < luma.shape[0] else float(band.mean())
    return Sky(luma=float(np.dot(rgb, (0.2126, 0.7152, 0.0722))), rgb=rgb,
               smooth_share=float(smooth.mean()), below=below)


def _blue_red(pixels: np.ndarray) -> float:
    linear = srgb_to_linear(pixels.reshape(-1, 3))
    usable = linear.max(axis=1) < CLIPPED
    mean = linear[usable].mean(axis=0) if usable.sum() > 100 else linear.mean(axis=0)
    return float(mean[2] / max(mean[0], 1e-4))


def _subject_split(luma: np.ndarray, box) -> tuple[float | None, float | None]:
    if not box:
        return None, None
    height, width = luma.shape
    left, top, right, bottom = (round(box[0] * width), round(box[1] * height),
                                round(box[2] * width), round(box[3] * height))
    inside = np.zeros(luma.shape, bool)
    inside[top:bottom, left:right] = True
    if inside.sum() < 16 or (~inside).sum() < 16:
        return None, None
    return float(np.median(luma[inside])), float(np.median(luma[~inside]))


def _faces(pixels: np.ndarray, width: int) -> tuple[tuple[float, float], ...]:
    found = haar_faces(to_uint8(pixels), eyes=False) or []  # widths only: no eye search
    return tuple((round((box[2] - box[0]) / width, 3), round(confidence, 2))
                 for box, confidence, _eyes in found)
