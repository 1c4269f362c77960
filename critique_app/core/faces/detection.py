"""BlazeFace, full range and short range: SSD anchors, box decoding, weighted NMS.

The numbers are those of MediaPipe's face_detection_full_range and
face_detection_short_range graphs. Full range: a 192x192 letterboxed input in [-1, 1],
2304 anchors (one per cell of a 48x48 grid, stride 4), min score 0.6. Short range: a
128x128 input, 896 anchors (strides 8, 16, 16, 16; 2 anchors per cell at stride 8, 6 at
stride 16), min score 0.5. Both: offsets scaled by the input size, sigmoid scores,
weighted NMS at IoU 0.3; keypoints 0 and 1 are the eyes (0 on the image's left), 2 the
nose tip, 3 the mouth, 4 and 5 the ear tragions.

A frame is read twice, both from one shrunk copy (192 px long side): the full-range
model finds faces from about 50 px wide in a 720 px frame (all we tried from 80 px,
most from 50 px, about half at 40 px) up to about three quarters of the long side, and
the short-range model finds close-ups from about a ninth of the long side up to the
whole frame. Frames much larger than 720 px are read by the full-range model in
half-overlapping tiles of about 720 px, so faces of those sizes in pixels are found
there too (the cost grows with the frame's area). Before the full-range model, the
short-range one ran on 16 overlapping tiles of a 720 px frame: faces down to ~35 px,
at four times the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class Model:
    """One BlazeFace model's input and anchors, as its MediaPipe graph sets them."""

    size: int                   # square input, pixels
    strides: tuple[int, ...]    # one per SSD layer
    per_layer: int              # anchors each layer adds per cell (fixed size: centres only)
    min_score: float


FULL_RANGE = Model(192, (4,), 1, 0.6)
SHORT_RANGE = Model(128, (8, 16, 16, 16), 2, 0.5)
NMS_IOU = 0.3
TILE = 720        # frames up to this long side (x TILE_SLACK) are one full-range input
TILE_SLACK = 1.15
NESTED = 0.7      # a box holding this much of a better one's area is dropped
EDGE = 2.0        # a tile's detection touching its cut edge is a cut face: dropped


@dataclass(frozen=True)
class Detection:
    box: np.ndarray        # x0, y0, x1, y1 in pixels
    keypoints: np.ndarray  # 6 x 2, pixels
    score: float


@lru_cache(maxsize=4)
def anchors(model: Model = SHORT_RANGE) -> np.ndarray:
    """Anchor centres (N x 2, 0-1): one run of equal strides shares a feature map, and
    each layer in the run adds ``per_layer`` anchors per cell."""
    centres = []
    layer = 0
    while layer < len(model.strides):
        last = layer
        while last < len(model.strides) and model.strides[last] == model.strides[layer]:
            last += 1
        per_cell = model.per_layer * (last - layer)
        cells = int(np.ceil(model.size / model.strides[layer]))
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(grid, grid)
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def shrink(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` with its long side at most ``long_side`` (INTER_AREA), and the scale from
    its pixels back to ``rgb``'s."""
    h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return rgb, 1.0
    scale = max(h, w) / long_side
    size = (max(1, round(w / scale)), max(1, round(h / scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """The ``size`` x ``size`` network input in [-1, 1] with the image centred, and how to
    map back: (input, scale from input pixels to image pixels, x and y padding)."""
    h, w = rgb.shape[:2]
    scale = max(h, w) / size
    nw, nh = max(1, round(w / scale)), max(1, round(h / scale))
    resized = rgb if (nw, nh) == (w, h) else cv2.resize(rgb, (nw, nh),
                                                        interpolation=cv2.INTER_AREA)
    canvas = np.zeros((size, size, 3), np.float32)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized * np.float32(1 / 127.5) - np.float32(1.0)
    return canvas, scale, px, py


def decode(regressors: np.ndarray, scores: np.ndarray, model: Model = SHORT_RANGE,
           min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N x 4, x0 y0 x1 y1) and keypoints (N x 6 x 2) in input pixels, and scores,
    of the anchors scoring at least ``min_score`` (only those are decoded). Offsets are in
    input pixels: MediaPipe's x/y/w/h scales equal the input size."""
    logits = np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    keep = np.flatnonzero(logits >= _logit(min_score))
    centres = anchors(model)[keep] * model.size
    raw = regressors.reshape(-1, 16)[keep]
    cx = raw[:, 0] + centres[:, 0]
    cy = raw[:, 1] + centres[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:].reshape(-1, 6, 2) + centres[:, None, :]
    return boxes, keypoints, 1.0 / (1.0 + np.exp(-logits[keep]))


def _logit(p: float) -> float:
    return -np.inf if p <= 0.0 else float(np.log(p / (1.0 - p)))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 min_score: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster of overlapping boxes becomes their
    score-weighted mean, scored as its best member."""
    keep = scores >= min_score
    boxes, keypoints, scores = boxes[keep], keypoints[keep], scores[keep]
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    result = []
    remaining = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        cluster = remaining & (iou(boxes[i], boxes) > NMS_IOU)
        cluster[i] = True
        weights = scores[cluster][:, None]
        box = (boxes[cluster] * weights).sum(0) / weights.sum()
        points = (keypoints[cluster] * weights[:, :, None]).sum(0) / weights.sum()
        result.append((box, points, float(scores[i])))
        remaining &= ~cluster
    return result


def detect_all(full_range, short_range, rgb: np.ndarray, run) -> list[Detection]:
    """Faces in ``rgb`` (uint8 HxWx3) large and small, best first: the full-range model
    on the frame (in tiles when it is much larger than TILE) and the short-range model
    on the whole frame, merged."""
    h, w = rgb.shape[:2]
    whole, whole_scale = shrink(rgb, FULL_RANGE.size)  # the one resize of a frame
    found = _scaled(detect(short_range, whole, run, SHORT_RANGE), whole_scale, (0, 0))
    if max(h, w) <= TILE * TILE_SLACK:
        found += _scaled(detect(full_range, whole, run, FULL_RANGE), whole_scale, (0, 0))
    else:
        side = min(max(TILE, max(h, w) // 2), min(h, w))
        for y in _starts(h, side):
            for x in _starts(w, side):
                tile, scale = shrink(rgb[y:y + side, x:x + side], FULL_RANGE.size)
                for d in _scaled(detect(full_range, tile, run, FULL_RANGE), scale, (x, y)):
                    if not _cut(d.box - np.tile([x, y], 2), x, y, side, w, h):
                        found.append(d)
    if not found:
        return []
    merged = weighted_nms(np.stack([d.box for d in found]), np.stack([d.keypoints for d in found]),
                          np.array([d.score for d in found]), min_score=0.0)
    return _not_nested([Detection(box, points, score) for box, points, score in merged])


def _not_nested(detections: list[Detection]) -> list[Detection]:
    """Without a box that holds most of a better-scored one: a face holds no other face,
    but the short-range model, on a frame where a face is small, sometimes boxes the
    head and shoulders around it too (IoU under NMS's 0.3, so NMS keeps both)."""
    kept: list[Detection] = []
    for d in detections:  # best first
        if not any(_inside(k.box, d.box) > NESTED or _inside(d.box, k.box) > NESTED
                   for k in kept):
            kept.append(d)
    return kept


def _inside(inner: np.ndarray, outer: np.ndarray) -> float:
    """How much of ``inner``'s area lies within ``outer`` (0-1)."""
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return float(max(w, 0) * max(h, 0) / area) if area > 0 else 0.0


def _scaled(detections: list[Detection], scale: float, shift: tuple[int, int]
            ) -> list[Detection]:
    offset = np.array(shift, np.float64)
    return [Detection(d.box * scale + np.tile(offset, 2), d.keypoints * scale + offset, d.score)
            for d in detections]


def _starts(length: int, side: int) -> list[int]:
    step = max(side // 2, 1)
    starts = list(range(0, max(length - side, 0) + 1, step))
    if starts[-1] + side < length:
        starts.append(length - side)
    return starts


def _cut(box: np.ndarray, x: int, y: int, side: int, w: int, h: int) -> bool:
    """Whether ``box`` (tile pixels) touches an edge of the tile that is not the frame's."""
    x0, y0, x1, y1 = box
    return bool((x > 0 and x0 < EDGE) or (y > 0 and y0 < EDGE)
                or (x + side < w and x1 > side - EDGE) or (y + side < h and y1 > side - EDGE))


def detect(interpreter, rgb: np.ndarray, run, model: Model = SHORT_RANGE,
           min_score: float | None = None) -> list[Detection]:
    """Faces in ``rgb`` (uint8 HxWx3) as one input of ``model``, in image pixels, best
    first."""
    image, scale, px, py = letterbox(rgb, model.size)
    regressors, scores = run(interpreter, image)
    min_score = model.min_score if min_score is None else min_score
    found = weighted_nms(*decode(regressors, scores, model, min_score), min_score=min_score)
    offset = np.array([px, py], np.float32)
    detections = []
    for box, points, score in found:
        box = ((box.reshape(2, 2) - offset) * scale).reshape(4)
        detections.append(Detection(box, (points - offset) * scale, score))
    return detections
