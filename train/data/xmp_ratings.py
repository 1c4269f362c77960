"""Your own culling as training data: star ratings and pick/reject flags in XMP sidecars
and in the photos' own XMP.

Lightroom Classic, darktable and digiKam keep ratings in sidecars next to the
photos (found with :func:`critique_app.core.library.xmp.sidecar_paths`, so the same
files the app writes to), or embedded in the photo (digiKam's default, Lightroom's
"write metadata to file"; read by :func:`critique_app.core.library.xmp.read_embedded_xmp`
without decoding pixels). The app's rule decides between them
(:func:`critique_app.core.library.ratings.rating_from_sidecars`): each property from the
sidecars when one has it, else from the photo. Per photo:

* rejected if any sidecar says so: ``xmp:Rating="-1"`` (darktable, Lightroom) or
  ``digiKam:PickLabel="1"``. A reject wins over stars: it is the later, stronger
  decision ("not this one");
* else 1..5 stars from the first sidecar that has them;
* else picked if ``digiKam:PickLabel="3"`` (accepted);
* else unrated (no sidecar, ``xmp:Rating="0"``, or no rating): not an error, only
  counted in :attr:`Dataset.unrated`. Stars that Critique's own scorer wrote
  (``critique:RatingSource="score-…"``, unchanged since) count as unrated too: a
  personal model must learn the photographer's judgement, not the scorer's. So do
  picks and rejects that ``critique cull --xmp`` wrote (``critique:FlagSource``).
  Lightroom's own pick flags live in its catalog, not in XMP, so they cannot be
  read here.

Stars and flags become distributions with :mod:`train.data.score_targets`. A sidecar
that is not valid XMP, or a photo whose embedded packet is too large, truncated or not
valid XMP, becomes a RowError naming it (line 0: not line-based).
The folder is searched recursively; hidden folders are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from critique_app.core.library.finding import find_photos
from critique_app.core.library.ratings import PhotoRating, rating_from_sidecars
from critique_app.core.library.xmp import (
    PICK_LABEL,
    RATING,
    FolderListing,
    Sidecar,
    folder_listing,
    read_embedded_xmp,
    read_sidecar,
    sidecar_paths,
)
from critique_app.core.util.errors import CritiqueError
from train.data.records import DataError, Dataset, RowError, ScoreRow
from train.data.score_targets import distribution_from_flag, distribution_from_stars


def _judgement(photo: Path, folder: Path, listing: FolderListing | None = None,
               ) -> PhotoRating:
    """The photo's rating, combined from its sidecars and its own XMP as the app reads it.

    ValueError naming the file if one is broken or holds an impossible rating."""
    sidecars = []
    listing = listing or folder_listing(photo.parent)
    for path in sidecar_paths(photo, listing):
        if path.name not in listing.names:
            continue
        name = path.relative_to(folder).as_posix()
        try:
            sidecar = read_sidecar(path)
        except CritiqueError as error:
            reason = error.args[0].removesuffix("; left unchanged")
            raise ValueError(f"{name}: {reason}; fix or delete this sidecar") from None
        sidecars.append(_checked(sidecar, name))
    name = photo.relative_to(folder).as_posix()
    try:
        embedded = read_embedded_xmp(photo).as_sidecar()
    except CritiqueError as error:
        raise ValueError(f"{name}: {error.args[0]}") from None
    if embedded.exists:
        embedded = _checked(embedded, f"{name} (embedded XMP)")
    return rating_from_sidecars(sidecars, embedded)


def _checked(document: Sidecar, name: str) -> Sidecar:
    label = document.first(PICK_LABEL)
    if label is not None and document.int_value(PICK_LABEL) is None:
        raise ValueError(f"{name}: PickLabel {label!r} is not a number")
    rating = document.int_value(RATING)
    if rating is not None and not -1 <= rating <= 5:
        raise ValueError(f"{name}: rating {rating} is not from -1 to 5")
    return document


def read_xmp_folder(path: Path, *, images: Path | None = None,
                    kind: str | None = None) -> Dataset:
    """Ratings of every photo under the folder ``path`` (``images`` is not used)."""
    folder = Path(os.path.abspath(path))
    if not folder.is_dir():
        raise DataError("folder not found", path=path)
    if kind not in (None, "score"):
        raise DataError("a photo folder holds ratings (scores), not critiques", path=path)
    dataset = Dataset("score", "xmp", folder)
    listings: dict[Path, FolderListing] = {}
    for photo in find_photos(folder, recursive=True):
        dataset.total_lines += 1
        try:
            if photo.parent not in listings:  # each folder listed once
                listings[photo.parent] = folder_listing(photo.parent)
            judgement = _judgement(photo, folder, listings[photo.parent])
        except ValueError as error:
            dataset.errors.append(RowError(0, str(error)))
            continue
        except CritiqueError as error:  # the folder could not be listed
            dataset.errors.append(RowError(0, str(error)))
            continue
        if judgement.rejected and not judgement.automatic_flag:
            row = ScoreRow(photo, distribution_from_flag("reject"), 0, "reject")
        elif judgement.stars and not judgement.automatic:
            stars = judgement.stars
            row = ScoreRow(photo, distribution_from_stars(stars), 0,
                           f"{stars} star" + ("s" if stars > 1 else ""))
        elif judgement.picked and not judgement.stars and not judgement.automatic_flag:
            row = ScoreRow(photo, distribution_from_flag("pick"), 0, "pick")
        else:  # unrated, or only what Critique's scorer or cull wrote
            dataset.unrated += 1
            continue
        dataset.rows.append(row)
    if not dataset.total_lines:
        raise DataError("no photos in this folder", path=path)
    return dataset
