"""Impressions (Kruk et al., EMNLP 2023; github.com/SALT-NLP/Impressions).

Each annotator wrote three things per image, which are the critic's first three
sections. The release's ``metadata/image_annotation_meta.csv`` has the columns
``(index), AnnotatorId, ImgId, caption, Impact, image_description,
image_impression, image_aesthetic_eval``; images are ``media/<ImgId>.png`` in the
repository (``download_images.py`` fetches them). ``caption`` (the news caption
shown with the image) and ``Impact`` are not critique text and are not used.

Personas. A ``persona`` column is used as it is. Otherwise, when the release's
annotator files sit beside the CSV, the annotator's traits are the persona, in
the paper's (and the app's built-in personas') terms, joined with "+":

* ``annotator_personality_data.csv``, ``Extroversion`` (-4..4): above 0
  "extrovert", below 0 "introvert", 0 neither;
* ``annotator_demographic_data.csv``, ``Visual Arts Experience``: years of
  experience ("1-2 years", ...) "art-experienced", "None" "novice"; "Hobby" and
  "Artistic Interests" are neither (not training, not none).

e.g. ``"introvert+novice"``; see :func:`persona_traits`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from train.data.generic import ImageFinder, read_csv, text_value
from train.data.records import CritiqueRow, DataError, Dataset, RowError

# Our section -> column names accepted for it (the release's first).
SECTION_ALIASES = {
    "description": ("image_description", "description"),
    "impression": ("image_impression", "impression"),
    "evaluation": ("image_aesthetic_eval", "image_aesthetic_evaluation",
                   "aesthetic_evaluation", "aesthetic_eval", "evaluation"),
}
IMAGE_ALIASES = ("imgid", "img_id", "image_id", "image")
ANNOTATOR_ALIASES = ("annotatorid", "annotator_id", "annotator")
PERSONALITY_FILE = "annotator_personality_data.csv"
DEMOGRAPHIC_FILE = "annotator_demographic_data.csv"
PERSONA_SEPARATOR = "+"
_EXTENSIONS = ("", ".png", ".jpg", ".jpeg", ".PNG", ".JPG")


def persona_traits(persona: str | None) -> set[str]:
    """``"introvert+novice"`` -> ``{"introvert", "novice"}`` (for picking rows per persona)."""
    return set(filter(None, (persona or "").split(PERSONA_SEPARATOR)))


def _first(columns: list[str], aliases: tuple[str, ...]) -> str | None:
    return next((a for a in aliases if a in columns), None)


def _social(value: str) -> str | None:
    score = float(value)  # ValueError for text; the caller reports it
    return "extrovert" if score > 0 else "introvert" if score < 0 else None


def _art(value: str) -> str | None:
    value = value.strip().lower()
    if value == "none":
        return "novice"
    return "art-experienced" if "year" in value else None


def _annotator_traits(folder: Path, dataset: Dataset) -> dict[str, list[str]]:
    """AnnotatorId -> traits, from whichever annotator files exist in ``folder``."""
    traits: dict[str, list[str]] = {}
    for name, column, trait in ((PERSONALITY_FILE, "extroversion", _social),
                                (DEMOGRAPHIC_FILE, "visual_arts_experience", _art)):
        path = folder / name
        if not path.is_file():
            continue
        meta = Dataset("critique", "impressions", path)
        try:
            columns, records = read_csv(path, meta)
        except DataError as error:
            dataset.errors.append(RowError(0, str(error)))
            continue
        annotator = _first(columns, ANNOTATOR_ALIASES)
        if annotator is None or column not in columns:
            dataset.errors.append(RowError(0, f"{name}: no AnnotatorId or {column} column; "
                                           "personas from it are left out"))
            continue
        dataset.errors += [RowError(0, f"{name} line {e.line}: {e.message}") for e in meta.errors]
        for line, record in records:
            try:
                value = trait(record[column])
            except ValueError:
                dataset.errors.append(RowError(0, f"{name} line {line}: {column} "
                                               f"{record[column]!r} is not a number"))
                continue
            if value:
                traits.setdefault(record[annotator].strip(), []).append(value)
    return traits


def _persona(record: Mapping[str, str], annotator: str | None,
             traits: dict[str, list[str]]) -> str | None:
    if text_value(record, "persona"):
        return text_value(record, "persona")
    found = traits.get(text_value(record, annotator)) if annotator else None
    return PERSONA_SEPARATOR.join(found) if found else None


def read_impressions(path: Path, *, images: Path | None = None,
                     kind: str | None = None) -> Dataset:
    """Read an Impressions annotation CSV; a row without text or image becomes a RowError."""
    path = Path(path)
    if kind not in (None, "critique"):
        raise DataError("Impressions holds critiques, not scores", path=path)
    dataset = Dataset("critique", "impressions", path)
    columns, records = read_csv(path, dataset)
    image_column = _first(columns, IMAGE_ALIASES)
    sections = {s: c for s, aliases in SECTION_ALIASES.items()
                if (c := _first(columns, aliases))}
    if image_column is None or not sections:
        raise DataError("not an Impressions CSV: needs ImgId and image_description, "
                        "image_impression or image_aesthetic_eval columns", path=path)
    annotator = _first(columns, ANNOTATOR_ALIASES)
    traits = {} if "persona" in columns else _annotator_traits(path.parent, dataset)
    root = path.parent
    finder = ImageFinder([Path(images)] if images else
                         [root / "media", root.parent / "media", root / "images", root])
    for line, record in records:
        texts = {s: text_value(record, c) for s, c in sections.items() if text_value(record, c)}
        image_id = text_value(record, image_column)
        image = finder.find(image_id, _EXTENSIONS) if image_id else None
        if not texts:
            dataset.errors.append(RowError(line, "no description, impression or evaluation"))
        elif image is None:
            dataset.errors.append(RowError(line, f"image not found: {image_id or '(no ImgId)'}"))
        else:
            dataset.rows.append(CritiqueRow(image, texts, line,
                                            _persona(record, annotator, traits)))
    dataset.errors.sort(key=lambda e: e.line)  # CSV shape errors came first
    return dataset
