"""The short, readable terminal report of an analysis."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from critique_app.core.analysis.analyzer import Analysis
from critique_app.core.measurements import SPECS
from critique_app.core.scene import Scene

_SHOWN = [
    "exposure.ev_vs_middle_grey", "exposure.highlights_clipped_pct",
    "exposure.highlights_clipped_where", "exposure.shadows_clipped_pct",
    "exposure.shadows_clipped_where", "contrast.tonal_range", "color.colorfulness",
    "color.colorfulness_level", "color.cast_direction", "color.cast_strength", "noise.sigma",
    "sharpness.global", "sharpness.subject", "sharpness.background",
    "sharpness.subject_background_ratio", "horizon.tilt_deg", "horizon.reference",
    "subject.centroid_x", "subject.centroid_y", "subject.nearest_thirds_point",
    "subject.thirds_distance", "subject.frame_fill_pct",
]  # fmt: skip
_PLAIN_UNITS = {"word", "frame region"}


def _format(key: str, value) -> str:
    unit = SPECS[key].unit
    if isinstance(value, float):
        value = f"{value:+.2f}" if unit in ("EV", "degrees") else f"{value:g}"
    if unit in _PLAIN_UNITS:
        return str(value)
    short = {"% of frame": "%", "degrees": "°", "0-1": "(0-1)"}.get(unit, unit)
    return f"{value}{short}" if short in ("%", "°") else f"{value} {short}"


def score_lines(scores: dict) -> list[str]:
    """One line per score model's score ({modality: ScoreDistribution}): the model, the mean
    on its scale, and the spread only where the model predicts a distribution."""
    lines = []
    for modality in sorted(scores, key=lambda m: m != "photo"):
        what = "score" if modality == "photo" else f"score of the {modality} map alone"
        lines.append(f"{what}: {scores[modality].sentence()}")
    return lines


def print_scores(scores: dict, console: Console) -> None:
    for line in score_lines(scores):
        console.print(line, highlight=False)


def print_report(analysis: Analysis, console: Console, scene: Scene | None = None) -> None:
    photo = analysis.photo
    info = photo.describe()
    console.print(f"[bold]{photo.path.name}[/bold]  {info['format']}, "
                  f"{info['width']}×{info['height']} ({info['megapixels']} MP), "
                  f"{photo.bit_depth}-bit, analysed at {photo.size[0]}×{photo.size[1]}")
    exif = photo.exif
    if not exif.is_empty():
        parts = [exif.camera, exif.lens,
                 f"{exif.focal_length_mm:g} mm" if exif.focal_length_mm else None,
                 f"f/{exif.aperture_f:g}" if exif.aperture_f else None,
                 exif.shutter_text, f"ISO {exif.iso}" if exif.iso else None, exif.taken_at]
        console.print("  " + " · ".join(p for p in parts if p))
    for note in photo.notes:
        console.print(f"  [dim]note: {note}[/dim]")

    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="cyan")
    table.add_column()
    for key in _SHOWN:
        value = analysis.measurements.get(key)
        if value is not None:
            table.add_row(SPECS[key].label, _format(key, value))
    if analysis.measurements.get("horizon.tilt_deg") is None:
        table.add_row(SPECS["horizon.tilt_deg"].label, "no horizon or strong verticals found")
    console.print(table)
    if scene is not None:
        print_scene(scene, console)

    console.print("[bold]Modalities[/bold]")
    for name, result in analysis.maps.items():
        if result.available:
            console.print(f"  {name:9} ok — {result.method}")
        else:
            console.print(f"  {name:9} [yellow]{result.status}[/yellow] — {result.reason}")
            if result.hint:
                console.print(f"            [dim]{result.hint}[/dim]")


def print_scene(scene: Scene, console: Console) -> None:
    """'Scene: blue-hour 0.67; light: blue hour', then each kind with its cues."""
    console.print(f"[bold]Scene[/bold]: {scene.summary()}", highlight=False)
    for line in scene.lines():
        if line != "No clear scene":
            console.print(f"  [dim]{escape(line)}[/dim]", highlight=False)
