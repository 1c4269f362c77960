"""The photographer's own ratings: stars, pick and reject, kept in XMP sidecars.

What Lightroom Classic, darktable and digiKam read, and what ``python -m train personal
--data FOLDER`` learns a personal taste from:

* stars: ``xmp:Rating`` 1-5 (0 = none);
* reject: ``xmp:Rating="-1"`` (darktable, Lightroom), which replaces the stars; a
  digiKam ``digiKam:PickLabel="1"`` is read as a reject too;
* pick: ``digiKam:PickLabel="3"`` (accepted), removed again when the pick is cleared.
  A pick and a reject exclude each other; stars and a pick can go together.

Where a rating is read from (the rule, and why, is in the README and docs/glossary.md):

* the photo's sidecars (``photo.ext.xmp`` darktable/digiKam, ``photo.xmp`` Lightroom):
  rejected if any says so, the stars of the first that has some, picked if any says so;
* the XMP embedded in the photo itself (``xmp/_embedded.py``:
  JPEG, TIFF/DNG and TIFF-based RAW, PNG, WebP, HEIC/AVIF), read without decoding pixels.

Each property is taken from the sidecars when any sidecar has it (``xmp:Rating``, even
0; ``digiKam:PickLabel``; the ``xmp:Label`` colour), else from the embedded packet: a
sidecar is the later, editable copy (darktable and digiKam write it, and darktable
copies the embedded rating into it on import). A rating set in Critique goes to the
sidecars with ``critique:RatingSource="user"``, so it wins from then on; the photo
itself is never written. `PhotoRating.read_from` says where the rating came from.

Ratings set here are the photographer's: they are marked ``critique:RatingSource="user"``
so automatic writers (``critique score --write-xmp``) keep them, and they replace
whatever rating was there before. Sidecars are edited by :mod:`critique_app.core.library.xmp`
(every other byte kept, checked, atomic writes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from critique_app.core.library.finding import find_photos
from critique_app.core.library.xmp import (
    FLAG_SOURCE,
    LABEL,
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_FLAG,
    WRITTEN_RATING,
    Changes,
    FolderListing,
    Sidecar,
    folder_listing,
    holds_cull_flag,
    judged_by_photographer,
    read_embedded_xmp,
    read_sidecar,
    sidecar_paths,
    update_sidecars,
)
from critique_app.core.util.errors import CritiqueError, check_cancelled

Flag = Literal["pick", "reject"] | None
# Where a rating came from: a sidecar another tool wrote, the photo's own XMP, or Critique
# (set in the app, or the scorer's automatic stars); None when the photo is unrated.
RatingReadFrom = Literal["sidecar", "embedded", "critique"] | None
PICK_REJECTED, PICK_ACCEPTED = 1, 3  # digiKam's PickLabel: 0 none, 1 rejected, 3 accepted
STAR, NO_STAR = "★", "☆"


@dataclass(frozen=True)
class PhotoRating:
    """One photo's rating. ``automatic``: the stars were written by Critique's scorer, not
    set by the photographer (a personal model should not learn from those);
    ``automatic_flag``: likewise for a pick or reject that Critique's cull wrote."""

    stars: int = 0  # 0-5
    rejected: bool = False
    picked: bool = False
    automatic: bool = False
    # The pick or reject was written by ``critique cull --xmp``, not by the photographer.
    automatic_flag: bool = False
    color: str | None = None  # the xmp:Label colour label ("Red", ...), read only
    # Where the rating was read (not part of the rating: equal ratings compare equal).
    read_from: RatingReadFrom = field(default=None, compare=False)
    read_from_file: str = field(default="", compare=False)  # the sidecar's or photo's name
    note: str = field(default="", compare=False)  # read all the same, e.g. a wrong extension

    @property
    def rated(self) -> bool:
        """Whether the training reader makes a row of it (stars, a pick or a reject)."""
        return self.rejected or self.picked or self.stars > 0

    @property
    def flag(self) -> Flag:
        return "reject" if self.rejected else "pick" if self.picked else None

    def with_stars(self, stars: int) -> PhotoRating:
        """Stars 1-5 (they replace a reject, which is a rating of -1), or 0 to clear them."""
        stars = _check_stars(stars)
        if stars == 0:
            return replace(self, stars=0, automatic=False)
        return replace(self, stars=stars, rejected=False, automatic=False, automatic_flag=False)

    def with_flag(self, flag: Flag) -> PhotoRating:
        """Pick, reject (which replaces the stars) or neither; the stars are kept otherwise
        (and stay the scorer's if they were)."""
        if flag == "reject":
            return PhotoRating(stars=0, rejected=True, color=self.color)
        if flag == "pick":
            return replace(self, picked=True, rejected=False, automatic_flag=False)
        if flag is None:
            return replace(self, picked=False, rejected=False, automatic_flag=False)
        raise ValueError(f"flag must be 'pick', 'reject' or None, not {flag!r}")

    def stars_text(self) -> str:
        return STAR * self.stars

    def label(self) -> str:
        """What a photographer reads: "★★★★", "★★★, picked", "rejected", "unrated"."""
        if self.rejected:
            return "rejected"
        parts = [self.stars_text()] if self.stars else []
        parts += ["picked"] if self.picked else []
        parts += [f"{self.color.lower()} label"] if self.color else []
        return ", ".join(parts) if parts else "unrated"

    def read_from_text(self) -> str:
        """Where the rating was read, for a tooltip: "from the photo's own XMP", ..."""
        if self.read_from == "embedded":
            return f"embedded in {self.read_from_file or 'the photo'} (its own XMP)"
        if self.read_from == "critique":
            who = "Critique's scorer" if self.automatic else "set in Critique"
            return f"{who}, saved in {self.read_from_file or 'the sidecar'}"
        if self.read_from == "sidecar":
            return f"from the sidecar {self.read_from_file}".rstrip()
        return ""

    def badge(self) -> str:
        """A few characters for a thumbnail: "★★★★", "⚑", "★★ ⚑", "✕", or ""."""
        if self.rejected:
            return "✕"
        return " ".join(part for part in (self.stars_text(), "⚑" if self.picked else "") if part)


@dataclass
class RatingUpdate:
    """What :func:`set_stars` / :func:`set_flag` did to one photo."""

    photo: Path
    rating: PhotoRating  # the photo's rating now
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each

    def message(self) -> str:
        """One line for a status bar: "chelsea.jpg: ★★★★ saved to chelsea.jpg.xmp"."""
        what = "rating cleared" if not self.rating.rated else self.rating.label()
        if self.written:
            text = f"{what} saved to {', '.join(path.name for path in self.written)}"
        elif self.unchanged:
            text = f"{what}, already in {', '.join(path.name for path in self.unchanged)}"
        else:
            text = f"{what} (nothing to save)"
        if self.skipped:
            text += f" ({self.skipped[0]})"
        return f"{self.photo.name}: {text}"


@dataclass
class RatingSummary:
    """The ratings in a folder, as the training reader will count them."""

    total: int = 0  # photos
    rated: int = 0  # photos with stars, a pick or a reject: the training rows
    stars: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    picked: int = 0  # picked without stars (picked photos with stars count as stars)
    rejected: int = 0
    automatic: int = 0  # rated photos whose stars came from Critique's scorer
    embedded: int = 0  # rated photos whose rating came from the photo's own XMP
    problems: list[str] = field(default_factory=list)  # unreadable sidecars, one line each

    def add(self, rating: PhotoRating) -> None:
        self.total += 1
        if not rating.rated:
            return
        self.rated += 1
        self.embedded += rating.read_from == "embedded"
        if rating.rejected:
            self.rejected += 1
        elif rating.stars:
            self.stars[rating.stars] += 1
            self.automatic += rating.automatic
        else:
            self.picked += 1


# --- reading --------------------------------------------------------------------------


def read_photo_rating(photo: Path, listing: FolderListing | None = None) -> PhotoRating:
    """The rating of ``photo`` from its sidecars and its own XMP (unrated when neither has
    one); see the module's docstring for which wins.

    Raises :class:`CritiqueError` (one line, naming the file) if a sidecar cannot be
    read or is not valid XMP, or if the photo's embedded packet is too large, truncated
    or not valid XMP (ignored when a rating set in Critique is in the sidecar: that one
    wins anyway). Ratings outside -1..5 and unreadable pick labels are ignored here
    (rating the photo again replaces them). ``listing``: its folder's, when the caller
    reads many photos of one folder (see :func:`read_ratings`).
    """
    photo = Path(photo)
    sidecars = [read_sidecar(path) for path in sidecar_paths(photo, listing)]
    try:
        embedded = read_embedded_xmp(photo)
    except CritiqueError as error:
        if not any(USER_BASIS in sidecar.values(RATING_BASIS) for sidecar in sidecars):
            raise
        return replace(rating_from_sidecars(sidecars), note=str(error))
    return replace(rating_from_sidecars(sidecars, embedded.as_sidecar()), note=embedded.note)


def read_ratings(photos: Iterable[Path], cancel: threading.Event | None = None,
                 ) -> Iterator[tuple[Path, PhotoRating | CritiqueError]]:
    """(photo, its rating or why it could not be read) for each photo, in order. Each
    folder is listed once (its listing is reused for the photos of that folder)."""
    listings: dict[Path, FolderListing | CritiqueError] = {}
    for photo in photos:
        check_cancelled(cancel)
        photo = Path(photo)
        if photo.parent not in listings:
            try:
                listings[photo.parent] = folder_listing(photo.parent)
            except CritiqueError as error:
                listings[photo.parent] = error
        listing = listings[photo.parent]
        try:
            if isinstance(listing, CritiqueError):
                raise listing
            yield photo, read_photo_rating(photo, listing)
        except CritiqueError as error:
            yield photo, error


def summarize_folder(folder: Path, *, recursive: bool = True,
                     cancel: threading.Event | None = None) -> RatingSummary:
    """How many photos under ``folder`` are rated, and how: what ``python -m train personal
    --data FOLDER`` will learn from (it reads subfolders too). Reads only sidecars; a
    large folder on a slow drive takes a while, so run it off the UI thread."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CritiqueError("folder not found", path=folder)
    summary = RatingSummary()
    for _photo, rating in read_ratings(find_photos(folder, recursive=recursive), cancel):
        if isinstance(rating, CritiqueError):
            summary.total += 1
            summary.problems.append(str(rating))
        else:
            summary.add(rating)
    return summary


def rating_from_sidecars(sidecars: list[Sidecar], embedded: Sidecar | None = None,
                         ) -> PhotoRating:
    """One photo's rating from its sidecars and (if given) its embedded XMP, read as a
    :class:`Sidecar` whose path is the photo's. Among sidecars: a reject anywhere wins,
    then the first stars (automatic when Critique's scorer wrote them), then a pick. Each
    property comes from the sidecars when any of them has it, else from the photo."""
    own = _Reading.of([sidecar for sidecar in sidecars if sidecar.exists])
    photo = _Reading.of([embedded] if embedded is not None and embedded.exists else [])
    rating = own if own.has_rating else photo
    label = own if own.label is not None else photo
    color = own.color or (photo.color if not own.has_color else None)
    rejected = rating.rejected or label.label == PICK_REJECTED
    picked = label.label == PICK_ACCEPTED and not rejected
    decided = rating if rating.has_rating and (rating.stars or rating.rejected) else (
        label if label.label in (PICK_REJECTED, PICK_ACCEPTED) else None)
    read_from: RatingReadFrom = None
    where = ""
    if decided is not None and decided.where is not None:
        where = decided.where.path.name
        if decided is photo:
            read_from = "embedded"
        elif decided.where.values(RATING_BASIS):
            read_from = "critique"
        else:
            read_from = "sidecar"
    documents = [sidecar for sidecar in sidecars if sidecar.exists]
    documents += [embedded] if embedded is not None and embedded.exists else []
    # A pick or reject only Critique's cull wrote: some document holds it as the cull's,
    # none holds the photographer's judgement.
    automatic_flag = (picked or rejected) and any(
        holds_cull_flag(d.root) for d in documents) and not any(
        judged_by_photographer(d.root) for d in documents)
    return PhotoRating(rating.stars, rejected, picked, rating.automatic and not rejected,
                       automatic_flag, color, read_from, where)


@dataclass
class _Reading:
    """The rating properties of one group of XMP documents (the sidecars, or the photo)."""

    has_rating: bool = False  # some document has xmp:Rating (0 included)
    stars: int = 0
    rejected: bool = False
    automatic: bool = False
    label: int | None = None  # digiKam PickLabel: 1 rejected wins, then 3 accepted
    has_color: bool = False
    color: str | None = None
    where: Sidecar | None = None  # the document the stars (or reject, or label) came from

    @classmethod
    def of(cls, documents: list[Sidecar]) -> _Reading:
        found = cls()
        for document in documents:
            raw, rating, label = (document.first(RATING), document.int_value(RATING),
                                  document.int_value(PICK_LABEL))
            found.has_rating = found.has_rating or raw is not None
            if rating == -1 and not found.rejected:
                found.rejected, found.where = True, found.where or document
            if not found.stars and rating is not None and 1 <= rating <= 5:
                found.stars, found.automatic = rating, _automatic(document, rating)
                found.where = document if not found.rejected else found.where
            if label is not None:
                if found.label is None or label == PICK_REJECTED or (
                        label == PICK_ACCEPTED and found.label != PICK_REJECTED):
                    found.label = label
                found.where = found.where or (document if label in (1, 3) else None)
            colors = document.values(LABEL)
            found.has_color = found.has_color or bool(colors)
            found.color = found.color or next((c.strip() for c in colors if c.strip()), None)
        return found


def _automatic(sidecar: Sidecar, rating: int) -> bool:
    """Written by an automatic writer and not changed since (see xmp's manual ratings)."""
    bases = sidecar.values(RATING_BASIS)
    return (bool(bases) and USER_BASIS not in bases
            and sidecar.int_value(WRITTEN_RATING) == rating)


# --- writing --------------------------------------------------------------------------


def set_stars(photo: Path, stars: int) -> RatingUpdate:
    """Give ``photo`` 1-5 stars (replacing a reject), or clear them with 0."""
    stars = _check_stars(stars)
    return _update(Path(photo), lambda rating: rating.with_stars(stars))


def set_flag(photo: Path, flag: Flag) -> RatingUpdate:
    """Pick (``"pick"``), reject (``"reject"``) or clear either (None)."""
    if flag not in ("pick", "reject", None):
        raise ValueError(f"flag must be 'pick', 'reject' or None, not {flag!r}")
    return _update(Path(photo), lambda rating: rating.with_flag(flag))


def _update(photo: Path, change) -> RatingUpdate:
    sidecars = [read_sidecar(path) for path in sidecar_paths(photo)]
    try:
        embedded: Sidecar | None = read_embedded_xmp(photo).as_sidecar()
    except CritiqueError:
        embedded = None  # unreadable: rated all the same, the sidecar wins from now on
    new = change(rating_from_sidecars(sidecars, embedded))
    result = update_sidecars(photo, lambda sidecar: _changes(sidecar, new, embedded))
    saved = result.written + result.unchanged
    if new.rated and saved:
        new = replace(new, read_from="critique", read_from_file=saved[0].name)
    return RatingUpdate(photo, new, result.written, result.unchanged, result.skipped)


def _changes(sidecar: Sidecar, new: PhotoRating, embedded: Sidecar | None = None) -> Changes:
    """What one sidecar needs so that it says ``new``, and nothing more. A sidecar
    property hides the photo's embedded one, so clearing a rating or a label that the
    photo carries writes 0 rather than removing the property."""
    changes: Changes = {}
    wanted = -1 if new.rejected else new.stars
    now = sidecar.int_value(RATING)
    in_photo = embedded.int_value(RATING) if embedded is not None and embedded.exists else None
    photo_label = (embedded.int_value(PICK_LABEL)
                   if embedded is not None and embedded.exists else None)
    bases = sidecar.values(RATING_BASIS)
    # The scorer's stars given again by the photographer: mark them as theirs.
    claim = wanted > 0 and not new.automatic and bool(bases) and set(bases) != {USER_BASIS}
    unrated_anyway = now is None and wanted == 0 and in_photo in (None, 0)
    if (now != wanted and not unrated_anyway) or claim:
        rating = str(wanted)
        changes = {RATING: rating, RATING_BASIS: USER_BASIS, WRITTEN_RATING: rating}
    if sidecar.values(FLAG_SOURCE) and (new.picked or new.rejected):
        # A flag the photographer set over one ``critique cull`` wrote is theirs now.
        changes |= {FLAG_SOURCE: None, WRITTEN_FLAG: None}
        if new.rejected and now == -1 and set(bases) != {USER_BASIS}:
            changes |= {RATING_BASIS: USER_BASIS, WRITTEN_RATING: "-1"}
    label = sidecar.int_value(PICK_LABEL)
    cleared = "0" if photo_label in (PICK_REJECTED, PICK_ACCEPTED) else None
    if new.picked:
        if label != PICK_ACCEPTED or sidecar.first(PICK_LABEL) != str(PICK_ACCEPTED):
            changes[PICK_LABEL] = str(PICK_ACCEPTED)
    else:
        hides_photo = (sidecar.first(PICK_LABEL) is None and cleared is not None
                       and not (photo_label == PICK_REJECTED and new.rejected))
        if label == PICK_ACCEPTED or (label == PICK_REJECTED and not new.rejected) or hides_photo:
            changes[PICK_LABEL] = cleared
    return changes


def _check_stars(stars: int) -> int:
    if isinstance(stars, bool) or not isinstance(stars, int) or not 0 <= stars <= 5:
        raise ValueError(f"stars must be a whole number from 0 to 5, not {stars!r}")
    return stars


__all__ = [
    "PhotoRating",
    "RatingSummary",
    "RatingUpdate",
    "rating_from_sidecars",
    "read_photo_rating",
    "read_ratings",
    "set_flag",
    "set_stars",
    "summarize_folder",
]
