"""Your own culling as training data: star ratings and pick/reject flags in XMP sidecars.

Lightroom Classic, darktable and digiKam keep ratings in sidecars next to the
photos (found with :func:`critique_app.core.batch.xmp.sidecar_paths`, so the same
files the app writes to). Per photo:

* rejected if any sidecar says so: ``xmp:Rating="-1"`` (darktable, Lightroom) or
  ``digiKam:PickLabel="1"``. A reject wins over stars: it is the later, stronger
  decision ("not this one");
* else 1..5 stars from the first sidecar that has them;
* else picked if ``digiKam:PickLabel="3"`` (accepted);
* else unrated (no sidecar, ``xmp:Rating="0"``, or no rating): not an error, only
  counted in :attr:`Dataset.unrated`. Stars that Critique's own scorer wrote
  (``critique:RatingSource="score-…"``, unchanged since) count as unrated too: a
  personal model must learn the photographer's judgement, not the scorer's.
  Lightroom's own pick flags live in its catalog, not in XMP, so they cannot be
  read here.

Stars and flags become distributions with :mod:`train.data.ratings`. A sidecar
that is not valid XMP becomes a RowError naming it (line 0: not line-based).
The folder is searched recursively; hidden folders are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeET

from critique_app.core.batch.xmp import read_rating, sidecar_paths
from critique_app.core.errors import CritiqueError
from critique_app.core.imaging.load import IMAGE_EXTENSIONS
from critique_app.core.imaging.raw import RAW_EXTENSIONS
from train.data.ratings import distribution_from_flag, distribution_from_stars
from train.data.records import DataError, Dataset, RowError, ScoreRow

DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
PICK_REJECTED, PICK_ACCEPTED = 1, 3  # digiKam: 0 none, 1 rejected, 2 pending, 3 accepted
PHOTO_EXTENSIONS = frozenset(IMAGE_EXTENSIONS | RAW_EXTENSIONS)


def read_pick_label(sidecar: Path) -> int | None:
    """digiKam's ``PickLabel`` (attribute or element form), or None. CritiqueError if unreadable."""
    try:
        data = Path(sidecar).read_bytes()
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})") from None
    if b"PickLabel" not in data:
        return None
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (SafeET.ParseError, defusedxml.DefusedXmlException):
        raise CritiqueError("not valid XMP") from None
    key = f"{{{DIGIKAM_NS}}}PickLabel"
    for element in root.iter():
        value = element.get(key) if key in element.attrib else (
            element.text if element.tag == key else None)
        if value is not None:
            try:
                return int(value.strip())
            except ValueError:
                raise CritiqueError(f"PickLabel {value!r} is not a number") from None
    return None


def photos_in(folder: Path) -> list[Path]:
    """Photos (by extension) under ``folder``, sorted, hidden folders skipped."""
    found = []
    for where, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found += [Path(where) / name for name in sorted(files)
                  if Path(name).suffix.lower() in PHOTO_EXTENSIONS and not name.startswith(".")]
    return found


def _judgement(photo: Path, folder: Path) -> tuple[str, int] | None:
    """("reject" | "pick" | "stars", stars) for one photo; None if unrated.
    ValueError naming the sidecar if one is broken or holds an impossible rating."""
    stars, reject, pick = None, False, False
    for sidecar in sidecar_paths(photo):
        if not sidecar.is_file():
            continue
        name = sidecar.relative_to(folder).as_posix()
        try:
            rating, label = read_rating(sidecar), read_pick_label(sidecar)
        except CritiqueError as error:
            reason = error.args[0].removesuffix("; left unchanged")
            raise ValueError(f"{name}: {reason}; fix or delete this sidecar") from None
        if rating is not None and not -1 <= rating <= 5:
            raise ValueError(f"{name}: rating {rating} is not from -1 to 5")
        reject = reject or rating == -1 or label == PICK_REJECTED
        pick = pick or label == PICK_ACCEPTED
        if stars is None and rating is not None and rating > 0:
            stars = rating
    if reject:
        return "reject", 0
    if stars is not None:
        return "stars", stars
    return ("pick", 0) if pick else None


def _written_by_the_scorer(photo: Path) -> bool:
    from critique_app.core.ratings import read_photo_rating

    try:
        return read_photo_rating(photo).automatic
    except CritiqueError:
        return False  # unreadable sidecars were already reported by _judgement


def read_xmp_folder(path: Path, *, images: Path | None = None,
                    kind: str | None = None) -> Dataset:
    """Ratings of every photo under the folder ``path`` (``images`` is not used)."""
    folder = Path(os.path.abspath(path))
    if not folder.is_dir():
        raise DataError("folder not found", path=path)
    if kind not in (None, "score"):
        raise DataError("a photo folder holds ratings (scores), not critiques", path=path)
    dataset = Dataset("score", "xmp", folder)
    for photo in photos_in(folder):
        dataset.total_lines += 1
        try:
            judgement = _judgement(photo, folder)
        except ValueError as error:
            dataset.errors.append(RowError(0, str(error)))
            continue
        except CritiqueError as error:  # the folder could not be listed
            dataset.errors.append(RowError(0, str(error)))
            continue
        if judgement is None:
            dataset.unrated += 1
            continue
        what, stars = judgement
        if what == "stars" and _written_by_the_scorer(photo):
            dataset.unrated += 1
            continue
        if what == "stars":
            row = ScoreRow(photo, distribution_from_stars(stars), 0,
                           f"{stars} star" + ("s" if stars > 1 else ""))
        else:
            row = ScoreRow(photo, distribution_from_flag(what), 0, what)
        dataset.rows.append(row)
    if not dataset.total_lines:
        raise DataError("no photos in this folder", path=path)
    return dataset
