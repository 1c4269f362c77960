"""The columns of a folder's results (CSV and JSON), one row per photo.

``COLUMNS`` is the single source of the column list and of its documentation
(``docs/score-columns.md`` is generated from it:
``python -m critique_app.core.folder_scoring.columns``).
"""

from __future__ import annotations

# Cached rows are stored under a version that includes this: bump it when a column is
# renamed or changes meaning, so rows cached before are computed afresh.
COLUMNS_VERSION = 2  # 2: colourfulness -> colorfulness

COLUMNS: dict[str, str] = {
    "path": "the photo file",
    "status": "ok, or error when the file could not be read as a photo",
    "error": "why it failed (one line), empty when ok",
    "score_mean": "predicted mean score, 1-10; empty when no score model is installed",
    "score_std": "spread of the predicted score distribution (standard deviation, score "
                 "points); empty for a model that predicts a mean only (LAION aesthetic v2)",
    "score_percentile": "share of this run's scored photos that score lower, in % (ties count "
                        "half); computed over the folder, so it changes with the folder",
    **{f"p{i}": f"predicted probability that viewers rate it {i}; empty for a mean-only model"
       for i in range(1, 11)},
    "saliency_score": "mean score of the saliency modality model (where the eye goes), if "
                      "installed",
    "depth_score": "mean score of the depth modality model, if installed",
    "blur_score": "mean score of the blur modality model, if installed",
    "sharpness": "overall sharpness from the blur map, 0-1 (1 = crisp)",
    "subject_sharpness": "sharpness of the salient subject, 0-1",
    "background_sharpness": "sharpness of the rest of the frame, 0-1",
    "exposure_ev": "mean linear luminance vs middle grey, in EV",
    "highlights_clipped_pct": "pixels blown to white in all channels, %",
    "shadows_clipped_pct": "pixels crushed to black, %",
    "noise_sigma": "noise standard deviation in flat areas, 8-bit levels (at analysis size)",
    "tilt_deg": "horizon / verticals tilt in degrees (positive = clockwise), empty if none",
    "colorfulness": "Hasler-Süsstrunk colourfulness M",
    "subject_thirds_distance": "distance of the subject's centre to the nearest thirds point, "
                               "fraction of the frame diagonal scale",
    "width": "photo width in pixels (upright)",
    "height": "photo height in pixels (upright)",
    "content_key": "hash of the file's bytes (the results-cache key)",
    "model": "the score model version(s) used (store name, weights hash, preprocessing), or "
             "no-score-model",
}

# measurement key in Analysis.measurements -> column
MEASUREMENT_COLUMNS = {
    "sharpness.global": "sharpness",
    "sharpness.subject": "subject_sharpness",
    "sharpness.background": "background_sharpness",
    "exposure.ev_vs_middle_grey": "exposure_ev",
    "exposure.highlights_clipped_pct": "highlights_clipped_pct",
    "exposure.shadows_clipped_pct": "shadows_clipped_pct",
    "noise.sigma": "noise_sigma",
    "horizon.tilt_deg": "tilt_deg",
    "color.colorfulness": "colorfulness",
    "subject.thirds_distance": "subject_thirds_distance",
}


def markdown(columns: dict[str, str] = COLUMNS, command: str = "critique score",
             source: str = "critique_app/core/folder_scoring/columns.py") -> str:
    """The columns' documentation page (also for ``critique cull``'s columns)."""
    lines = [f"# `{command}` result columns", "",
             f"Generated from `{source}`; one row per photo.", "",
             "| column | meaning |", "| --- | --- |"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in columns.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
