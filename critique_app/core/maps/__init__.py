"""Modality maps a photographer can overlay: blur, saliency, depth."""

from critique_app.core.maps.base import MapResult
from critique_app.core.maps.blur import compute_blur
from critique_app.core.maps.depth import compute_depth, find_depth_model
from critique_app.core.maps.overlay import render_overlay, with_legend
from critique_app.core.maps.saliency import compute_saliency

__all__ = [
    "MapResult",
    "compute_blur",
    "compute_depth",
    "compute_saliency",
    "find_depth_model",
    "render_overlay",
    "with_legend",
]
