"""AVA (Murray et al., 2012): 255,000 DPChallenge photos, each with its vote counts.

``AVA.txt`` has one photo per line, 15 fields separated by spaces::

    index  image_id  votes_for_1 ... votes_for_10  tag1  tag2  challenge_id

The votes become the photo's score distribution as they are (no smoothing: with
~200 voters each, they already are one). Photos are ``<image_id>.jpg`` in
``images=`` if given, else in ``images/`` beside AVA.txt, else beside it.
"""

from __future__ import annotations

from pathlib import Path

from train.data.generic import ImageFinder, read_text, text_lines
from train.data.records import SCORE_BINS, DataError, Dataset, RowError, ScoreRow
from train.data.score_targets import distribution_from_votes

FIELDS = 3 + SCORE_BINS + 2  # index, id, 10 votes, 2 tags, challenge
_EXTENSIONS = (".jpg", ".JPG", ".jpeg", ".JPEG")


def _votes(fields: list[str]) -> list[int]:
    votes = []
    for score, text in enumerate(fields[2 : 2 + SCORE_BINS], start=1):
        try:
            count = int(text)
        except ValueError:
            raise ValueError(f"votes for score {score} are {text!r}, not a whole number") from None
        if count < 0:
            raise ValueError(f"votes for score {score} are negative ({count})")
        votes.append(count)
    if not any(votes):
        raise ValueError("no votes")
    return votes


def parse_line(fields: list[str]) -> tuple[str, list[int]]:
    """(image id, ten vote counts) of one split line. ValueError with the reason."""
    if len(fields) != FIELDS:
        raise ValueError(f"expected {FIELDS} fields, found {len(fields)}")
    return fields[1], _votes(fields)


def read_ava(path: Path, *, images: Path | None = None, kind: str | None = None) -> Dataset:
    """Read ``AVA.txt``; every bad line or missing photo becomes a RowError."""
    path = Path(path)
    if kind not in (None, "score"):
        raise DataError("AVA holds scores, not critiques", path=path)
    root = path.parent
    finder = ImageFinder([Path(images)] if images else [root / "images", root])
    dataset = Dataset("score", "ava", path)
    for number, line in enumerate(text_lines(read_text(path)), start=1):
        fields = line.split()
        if not fields:
            continue
        dataset.total_lines += 1
        try:
            image_id, votes = parse_line(fields)
        except ValueError as error:
            dataset.errors.append(RowError(number, str(error)))
            continue
        image = finder.find(image_id, _EXTENSIONS)
        if image is None:
            dataset.errors.append(RowError(number, f"photo {image_id}.jpg not found"))
            continue
        dataset.rows.append(ScoreRow(image, distribution_from_votes(votes), number,
                                     f"{sum(votes)} votes"))
    return dataset
