"""Every measurement Critique reports: its unit and what it means.

This table is the single source for the JSON output's units, the CLI report's
labels and docs/measurements.md (regenerate with
``python -m critique_app.core.measurements.spec > docs/measurements.md``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    label: str
    unit: str
    description: str


SPECS: dict[str, Spec] = {
    # exposure
    "exposure.mean_luminance": Spec("Mean brightness", "0-1",
        "Mean Rec. 709 luma of the sRGB-encoded pixels (0 = black, 1 = white)."),
    "exposure.median_luminance": Spec("Median brightness", "0-1", "Median luma."),
    "exposure.ev_vs_middle_grey": Spec("Exposure vs. middle grey", "EV",
        "log2 of mean linear luminance over 18% grey: 0 is an 'average' exposure, "
        "+1 twice as bright, -1 half."),
    "exposure.highlights_clipped_pct": Spec("Blown highlights", "% of frame",
        "Pixels whose three channels are all >= 250/255: pure white, no detail left."),
    "exposure.any_channel_clipped_pct": Spec("Clipped colour channel", "% of frame",
        "Pixels with at least one channel >= 254/255 (colour detail lost in that channel)."),
    "exposure.shadows_clipped_pct": Spec("Crushed shadows", "% of frame",
        "Pixels whose three channels are all <= 5/255: pure black, no detail left."),
    "exposure.highlights_clipped_where": Spec("Where highlights clip", "frame region",
        "The part of the frame (3x3 grid: top-left ... bottom-right) holding most blown "
        "pixels; absent when under 0.1% are blown."),
    "exposure.shadows_clipped_where": Spec("Where shadows clip", "frame region",
        "The same for crushed shadows."),
    "exposure.histogram": Spec("Luminance histogram", "fraction per bin",
        "32 equal bins of luma from 0 to 1; the fractions sum to 1."),
    # contrast
    "contrast.rms": Spec("RMS contrast", "0-0.5", "Standard deviation of luma."),
    "contrast.tonal_range": Spec("Tonal range", "0-1",
        "Luma spread between the 2nd and 98th percentiles (1 = full black-to-white range)."),
    # colour
    "color.colorfulness": Spec("Colourfulness", "M (Hasler-Süsstrunk)",
        "0 grey; ~15 slightly, ~33 moderately, ~45 averagely, ~59 quite, ~82 highly, "
        "~109 extremely colourful."),
    "color.colorfulness_level": Spec("Colourfulness level", "word",
        "The Hasler-Süsstrunk category of the value above."),
    "color.mean_saturation": Spec("Mean saturation", "0-1", "Mean HSV saturation."),
    "color.highly_saturated_pct": Spec("Highly saturated", "% of frame",
        "Pixels with HSV saturation > 0.8 and value > 0.2 (risk of clipped colour)."),
    "color.cast_a": Spec("Colour cast a*", "CIELAB a*",
        "a* of the light's colour estimated from edges (grey-edge): + magenta, - green."),
    "color.cast_b": Spec("Colour cast b*", "CIELAB b*",
        "b* of the same estimate: + yellow/warm, - blue/cool."),
    "color.cast_strength": Spec("Colour cast strength", "ΔE (CIELAB)",
        "Chroma of the estimated light colour: under 3 is hard to see. The estimate reads "
        "up to ~10 on balanced but colourful scenes, so only over ~12 is called a cast."),
    "color.cast_direction": Spec("Colour cast", "word",
        "neutral, or the hue the neutrals lean to (warm, cool, green, magenta, ...)."),
    # noise
    "noise.sigma": Spec("Noise", "8-bit levels (σ)",
        "Standard deviation of sensor/compression noise in flat areas, at the analysis size "
        "(Immerkær's estimator); under 1.5 is clean, over 5 visibly noisy. Absent for photos "
        "under 8 px on a side."),
    # sharpness
    "sharpness.global": Spec("Overall sharpness", "0-1",
        "1 - mean blur over textured areas (1 = crisp everywhere)."),
    "sharpness.subject": Spec("Subject sharpness", "0-1",
        "The same, weighted by saliency (where the eye goes)."),
    "sharpness.background": Spec("Background sharpness", "0-1",
        "The same, weighted by 1 - saliency."),
    "sharpness.subject_background_ratio": Spec("Subject / background sharpness", "ratio",
        "> 1: the subject is sharper than the background (subject isolation)."),
    "sharpness.edge_width_px": Spec("Edge width", "px at full resolution",
        "Median blur sigma of textured edges, converted to the original pixel grid."),
    "sharpness.blurred_pct": Spec("Blurred area", "% of frame", "Pixels with blur > 0.5."),
    # horizon
    "horizon.tilt_deg": Spec("Tilt", "degrees",
        "Rotation of the scene: + clockwise (the right side is lower / verticals lean right), "
        "- counter-clockwise. Rotate the photo by the opposite amount to level it. "
        "Absent when no horizon or strong verticals were found."),
    "horizon.reference": Spec("Tilt measured on", "word",
        "'horizon' (long near-horizontal lines) or 'verticals' (near-vertical lines)."),
    "horizon.support": Spec("Tilt evidence", "line length / frame size",
        "Total length of the agreeing lines relative to the frame width (horizon) or "
        "height (verticals)."),
    # subject
    "subject.centroid_x": Spec("Subject centre x", "fraction of width", "0 = left edge."),
    "subject.centroid_y": Spec("Subject centre y", "fraction of height", "0 = top edge."),
    "subject.box": Spec("Subject box", "fractions [left, top, right, bottom]",
        "Bounding box of the most salient region."),
    "subject.frame_fill_pct": Spec("Subject fills", "% of frame", "Area of the subject box."),
    "subject.thirds_distance": Spec("Distance to a thirds point", "fraction of frame",
        "Distance from the subject centre to the nearest rule-of-thirds intersection, "
        "with x and y measured as fractions of width and height."),
    "subject.nearest_thirds_point": Spec("Nearest thirds point", "word",
        "upper-left, upper-right, lower-left or lower-right."),
    "subject.centre_distance": Spec("Distance to the centre", "fraction of frame",
        "Distance from the subject centre to the frame centre, same units."),
}


def unit_of(key: str) -> str:
    return SPECS[key].unit


def markdown() -> str:
    lines = [
        "# Measurements",
        "",
        "Every value `critique analyze --json` reports under `measurements`, as",
        "`{\"value\": ..., \"unit\": ...}`. Generated from",
        "`critique_app/core/measurements/spec.py`; do not edit by hand.",
        "",
        "| key | unit | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{key}` | {spec.unit} | **{spec.label}.** {spec.description} |"
              for key, spec in SPECS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
