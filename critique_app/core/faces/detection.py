"""BlazeFace short range: SSD anchors, box decoding and weighted non-maximum suppression.

The numbers are those of MediaPipe's face_detection_short_range graph: a 128x128
letterboxed input in [-1, 1], 896 anchors (strides 8, 16, 16, 16; 2 anchors per
cell at stride 8, 6 at stride 16), offsets scaled by 128, sigmoid scores, weighted
NMS at IoU 0.3. Keypoints: 0 and 1 are the eyes (0 on the image's left), 2 the nose
tip, 3 the mouth, 4 and 5 the ear tragions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

SIZE = 128
STRIDES = (8, 16, 16, 16)
SCALE = 128.0
MIN_SCORE = 0.5
NMS_IOU = 0.3
# The short-range model misses faces under about a ninth of the frame's long side, so
# larger frames are also read in overlapping square tiles (half the short side, half
# overlapping: any face up to a quarter of the short side lies whole in some tile).
TILE_FROM = 384   # long side (pixels) from which tiles are read too
TILE_MIN_SCORE = 0.75  # tiles are small views where textures pass for faces more often
EDGE = 2.0        # a tile's detection touching its cut edge is a cut face: dropped


@dataclass(frozen=True)
class Detection:
    box: np.ndarray        # x0, y0, x1, y1 in pixels
    keypoints: np.ndarray  # 6 x 2, pixels
    score: float


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """Anchor centres (896 x 2, 0-1): one run of equal strides shares a feature map, and
    each layer in the run adds two anchors per cell (fixed size, so only centres matter)."""
    centres = []
    layer = 0
    while layer < len(STRIDES):
        last = layer
        while last < len(STRIDES) and STRIDES[last] == STRIDES[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        cells = int(np.ceil(SIZE / STRIDES[layer]))
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
        layer = last
    return np.asarray(centres, np.float32)


def letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The 128x128 network input in [-1, 1] with the image centred, and how to map back:
    (input, scale from input pixels to image pixels, x and y padding in input pixels)."""
    h, w = rgb.shape[:2]
    scale = max(h, w) / SIZE
    nw, nh = max(1, round(w / scale)), max(1, round(h / scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((SIZE, SIZE, 3), np.float32)
    px, py = (SIZE - nw) // 2, (SIZE - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized.astype(np.float32) / 127.5 - 1.0
    return canvas, scale, px, py


def decode(regressors: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Boxes (N x 4, x0 y0 x1 y1) and keypoints (N x 6 x 2) in input pixels, and scores."""
    centres = anchors() * SIZE
    raw = regressors.reshape(-1, 16)
    cx = raw[:, 0] / SCALE * SIZE + centres[:, 0]
    cy = raw[:, 1] / SCALE * SIZE + centres[:, 1]
    w = raw[:, 2] / SCALE * SIZE
    h = raw[:, 3] / SCALE * SIZE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:].reshape(-1, 6, 2) / SCALE * SIZE + centres[:, None, :]
    logits = np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    return boxes, keypoints, 1.0 / (1.0 + np.exp(-logits))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 min_score: float = MIN_SCORE) -> list[tuple[np.ndarray, np.ndarray, float]]:
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


def detect_all(interpreter, rgb: np.ndarray, run) -> list[Detection]:
    """Faces in ``rgb`` (uint8 HxWx3) large and small: the whole frame, then tiles."""
    found = detect(interpreter, rgb, run)
    h, w = rgb.shape[:2]
    side = min(h, w) // 2
    if max(h, w) < TILE_FROM or side < SIZE:
        return found
    for y in _starts(h, side):
        for x in _starts(w, side):
            tile = rgb[y:y + side, x:x + side]
            for d in detect(interpreter, tile, run, min_score=TILE_MIN_SCORE):
                if _cut(d.box, x, y, side, w, h):
                    continue
                shift = np.array([x, y], np.float64)
                found.append(Detection(d.box + np.tile(shift, 2), d.keypoints + shift, d.score))
    if not found:
        return []
    merged = weighted_nms(np.stack([d.box for d in found]), np.stack([d.keypoints for d in found]),
                          np.array([d.score for d in found]), min_score=MIN_SCORE)
    return [Detection(box, points, score) for box, points, score in merged]


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


def detect(interpreter, rgb: np.ndarray, run, min_score: float = MIN_SCORE) -> list[Detection]:
    """Faces in ``rgb`` (uint8 HxWx3) as one 128x128 input, in image pixels, best first."""
    image, scale, px, py = letterbox(rgb)
    regressors, scores = run(interpreter, image)
    found = weighted_nms(*decode(regressors, scores), min_score=min_score)
    offset = np.array([px, py], np.float32)
    detections = []
    for box, points, score in found:
        box = ((box.reshape(2, 2) - offset) * scale).reshape(4)
        detections.append(Detection(box, (points - offset) * scale, score))
    return detections
