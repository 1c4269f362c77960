"""ArtEmis (Achlioptas et al., 2021): emotions WikiArt paintings evoke, and why.

``artemis_dataset_release_v0.csv`` has the columns ``art_style, painting, emotion,
utterance, repetition``: one annotator's emotion (one of nine categories, written
as :data:`~critique_app.core.critic.sections.EMOTIONS` writes them, "something
else" included) and the sentence explaining it. That sentence is both the row's
``explanation`` and its "emotion" section, which is what SEVLM-style training
needs. Paintings are ``<images>/<art_style>/<painting>.jpg``; ``images`` defaults
to ``wikiart/`` beside the CSV, else the CSV's folder.
"""

from __future__ import annotations

from pathlib import Path

from train.data.generic import ImageFinder, emotion_label, read_csv, text_value
from train.data.records import CritiqueRow, DataError, Dataset, RowError

COLUMNS = ("art_style", "painting", "emotion", "utterance")
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG")


def read_artemis(path: Path, *, images: Path | None = None, kind: str | None = None) -> Dataset:
    """Read an ArtEmis CSV; a bad emotion or a missing painting becomes a RowError."""
    path = Path(path)
    if kind not in (None, "critique"):
        raise DataError("ArtEmis holds critiques (emotions), not scores", path=path)
    dataset = Dataset("critique", "artemis", path)
    columns, records = read_csv(path, dataset)
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise DataError(f"not an ArtEmis CSV: no {', '.join(missing)} column", path=path)
    root = path.parent
    finder = ImageFinder([Path(images)] if images else [root / "wikiart", root])
    for line, record in records:
        style, painting = text_value(record, "art_style"), text_value(record, "painting")
        utterance = text_value(record, "utterance")
        try:
            emotion = emotion_label(text_value(record, "emotion"))
            if not utterance:
                raise ValueError("no utterance (the reason for the emotion)")
            image = finder.find(f"{style}/{painting}", _EXTENSIONS) if style and painting \
                else None
            if image is None:
                raise ValueError(f"painting not found: {style}/{painting}.jpg")
        except ValueError as error:
            dataset.errors.append(RowError(line, str(error)))
            continue
        dataset.rows.append(CritiqueRow(image, {"emotion": utterance}, line, None, emotion,
                                        utterance))
    dataset.errors.sort(key=lambda e: e.line)  # CSV shape errors came first
    return dataset
