"""PCCD, the Photo Critique Captioning Dataset (Chang et al., ICCV 2017).

Professional reviews from GuruShots, one per photo, split into aspects. The
release (``guru_train.json`` etc.) is one JSON list of objects such as::

    {"title": "14_winter-wonderland-1", "general_impression": "...",
     "subject_of_photo": "...", "composition": "...", "color_lighting": "...",
     "use_of_camera": "...", "depth_of_field": "...", "focus": "...",
     "description": "...", "score": ["8", "10", ...], "overall": "8.6", ...}

(``im_name`` instead of ``title`` in the processed splits some projects publish.)
The general impression becomes the "impression" section; the other aspects the
"evaluation", one "Composition: ..." sentence each; a ``suggestions`` field, where
a variant has one, the "suggestions". ``description`` is the photographer's own
note about the shot, not a description of it, and is left out. Photos are
``<images>/<title>`` (with or without ``.jpg``); ``images`` defaults to
``images/full/`` beside the JSON (the layout common PCCD loaders use), else
``images/``, else the JSON's folder. Line numbers are entry numbers (1 = first).
"""

from __future__ import annotations

import json
from pathlib import Path

from train.data.generic import ImageFinder, read_text
from train.data.records import CritiqueRow, DataError, Dataset, RowError

IMAGE_KEYS = ("title", "im_name", "image", "image_name", "filename")
IMPRESSION_KEYS = ("general_impression",)
# Aspect key -> the words that start its sentence in the evaluation, in reading order.
ASPECTS = {
    "subject_of_photo": "Subject",
    "composition": "Composition",
    "color_lighting": "Colour and lighting",
    "use_of_camera": "Use of camera, exposure and speed",
    "use_of_camera_exposure_and_speed": "Use of camera, exposure and speed",
    "depth_of_field": "Depth of field",
    "focus": "Focus",
}
SUGGESTION_KEYS = ("suggestions", "suggestion", "improvements", "improvement", "tips")
_EXTENSIONS = ("", ".jpg", ".JPG", ".jpeg", ".JPEG", ".png")


def _text(value: object, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(v.strip() for v in value if v.strip())
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return " ".join(value.split())


def _sentence(label: str, text: str) -> str:
    return f"{label}: {text}" + ("" if text.endswith((".", "!", "?")) else ".")


def sections_from_entry(entry: dict) -> dict[str, str]:
    """The app's sections from one PCCD entry. ValueError if a field is not text."""
    sections: dict[str, str] = {}
    impression = next((t for k in IMPRESSION_KEYS if (t := _text(entry.get(k), k))), "")
    if impression:
        sections["impression"] = impression
    sentences, seen = [], set()
    for key, label in ASPECTS.items():
        text = _text(entry.get(key), key)
        if text and label not in seen:
            seen.add(label)
            sentences.append(_sentence(label, text))
    if sentences:
        sections["evaluation"] = " ".join(sentences)
    suggestions = next((t for k in SUGGESTION_KEYS if (t := _text(entry.get(k), k))), "")
    if suggestions:
        sections["suggestions"] = suggestions
    return sections


def _load(path: Path) -> list:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON at line {error.lineno}, column {error.colno} "
                        f"({error.msg})", path=path) from None
    if not isinstance(data, list):
        raise DataError("expected a JSON list of critiques [{...}, ...]", path=path)
    return data


def read_pccd(path: Path, *, images: Path | None = None, kind: str | None = None) -> Dataset:
    """Read a PCCD-style JSON list; every malformed entry becomes a RowError."""
    path = Path(path)
    if kind not in (None, "critique"):
        raise DataError("PCCD is read as critiques, not scores", path=path)
    dataset = Dataset("critique", "pccd", path)
    root = path.parent
    finder = ImageFinder([Path(images)] if images else
                         [root / "images" / "full", root / "images", root])
    for number, entry in enumerate(_load(path), start=1):
        dataset.total_lines += 1
        try:
            if not isinstance(entry, dict):
                raise ValueError("not an object {...}")
            name = next((v.strip() for k in IMAGE_KEYS
                         if isinstance(v := entry.get(k), str) and v.strip()), "")
            if not name:
                raise ValueError(f"no image name ({' or '.join(IMAGE_KEYS[:2])})")
            sections = sections_from_entry(entry)
            if not sections:
                raise ValueError("no critique text (general_impression, composition, ...)")
            image = finder.find(name, _EXTENSIONS)
            if image is None:
                raise ValueError(f"photo not found: {name}")
        except ValueError as error:
            dataset.errors.append(RowError(number, str(error)))
            continue
        dataset.rows.append(CritiqueRow(image, sections, number))
    return dataset
