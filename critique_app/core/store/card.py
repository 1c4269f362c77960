"""A model's card: what it predicts, how well, on what input, under which licences.

The text the CLI (``critique models list --verbose``) and the Models dialog show for
each model. Facts come from the manifest entry's ``card`` (and its licence fields);
what is not known is left out rather than guessed.
"""

from __future__ import annotations

from critique_app.core.store.manifest import ModelEntry

NOT_MEASURED = "not measured yet"


def card_lines(entry: ModelEntry, status=None, speed: str | None = None) -> list[str]:
    """The card of ``entry`` as lines of text.

    ``status`` is the store's ModelStatus for it (installed size) or None; ``speed`` is
    the measured speed on this machine (e.g. "1.2 s a photo on CPU, 2 cores, measured
    2026-12-07"), or None when it was never measured here.
    """
    card = entry.card
    lines = [f"{entry.title} ({entry.name})" if entry.title != entry.name else entry.name]
    if entry.description:
        lines.append(entry.description)
    predicts = card.get("predicts")
    if predicts == "mean":
        lines.append("Predicts: a mean score only (no distribution)")
    elif predicts == "distribution":
        lines.append("Predicts: a distribution over the 10 score steps, and its mean")
    elif entry.task:
        lines.append(f"Task: {entry.task}")
    if card.get("scale"):
        lines.append(f"Scale: {card['scale']}")
    if card.get("srcc") is not None:
        by = f", measured by {card['srcc_by']}" if card.get("srcc_by") else ""
        lines.append(f"Accuracy: SRCC {float(card['srcc']):.3f} with AVA ratings{by}")
    if card.get("input"):
        lines.append(f"Input: {card['input']}")
    code, weights = card.get("code_licence"), card.get("weights_licence")
    if code or weights:
        if code:
            lines.append(f"Code licence: {code}")
        lines.append(f"Weights licence: {weights or entry.licence}")
    else:
        lines.append(f"Licence: {entry.licence}")
    if entry.licence_acceptance:
        lines.append(f"Before pulling, accept: {entry.licence_acceptance}")
    lines.append(_size_line(entry, status))
    if entry.task in ("score", "critic"):
        lines.append(f"Speed on this machine: {speed or NOT_MEASURED}")
        lines += [f"Benchmark: {line}" for line in _benchmarks(entry)]
    if entry.trained_on:
        lines.append(f"Trained on: {entry.trained_on}")
    lines.append(f"Source: {entry.source.describe()}")
    if card.get("caution"):
        lines.append(f"Caution: {card['caution']}")
    return lines


def _size_line(entry: ModelEntry, status) -> str:
    damaged = getattr(status, "damaged", None)
    if damaged:
        return f"Installed: damaged ({damaged})"
    if status is not None and getattr(status, "installed", False):
        return f"Size on disk: {format_bytes(status.size_bytes)}"
    size = entry.download_bytes
    if size:
        return f"Not installed; download about {format_bytes(size)}"
    return "Not installed; download size not known"


def format_bytes(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{n} bytes"


def _benchmarks(entry: ModelEntry) -> list[str]:
    """The manifest's measured figures (another machine's, or a benchmark run here)."""
    lines = []
    for figure in entry.measured:
        where = figure.get("gpu") or (f"{figure['cores']} CPU cores" if figure.get("cores")
                                      else figure.get("device", "?"))
        if "seconds_per_photo" in figure:
            lines.append(f"about {figure['seconds_per_photo']:.2g} s a photo on {where}")
        elif "seconds" in figure:
            lines.append(f"about {figure['seconds']:.0f} s a critique on {where}")
    return lines
