"""The photographer's own ratings: stars, pick and reject, kept in XMP sidecars.

What Lightroom Classic, darktable and digiKam read, and what ``python -m train personal
--data FOLDER`` learns a personal taste from:

* stars: ``xmp:Rating`` 1-5 (0 = none);
* reject: ``xmp:Rating="-1"`` (darktable, Lightroom), which replaces the stars; a
  digiKam ``digiKam:PickLabel="1"`` is read as a reject too;
* pick: ``digiKam:PickLabel="3"`` (accepted), removed again when the pick is cleared.
  A pick and a reject exclude each other; stars and a pick can go together.

A photo is read the way the training reader reads it: rejected if any of its sidecars
says so, the stars of the first sidecar that has some, picked if any sidecar says so.
Ratings set here are the photographer's: they are marked ``critique:RatingSource="user"``
so automatic writers (``critique score --write-xmp``) keep them, and they replace
whatever rating was there before. Sidecars are edited by :mod:`critique_app.core.library.xmp`
(every other byte kept, checked, atomic writes); the photo itself is never opened.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from critique_app.core.library.finding import find_photos
from critique_app.core.library.xmp import (
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_RATING,
    Changes,
    Sidecar,
    read_sidecar,
    sidecar_paths,
    update_sidecars,
)
from critique_app.core.util.errors import CritiqueError, check_cancelled

Flag = Literal["pick", "reject"] | None
PICK_REJECTED, PICK_ACCEPTED = 1, 3  # digiKam's PickLabel: 0 none, 1 rejected, 3 accepted
STAR, NO_STAR = "★", "☆"


@dataclass(frozen=True)
class PhotoRating:
    """One photo's rating. ``automatic``: the stars were written by Critique's scorer, not
    set by the photographer (a personal model should not learn from those)."""

    stars: int = 0  # 0-5
    rejected: bool = False
    picked: bool = False
    automatic: bool = False

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
        return replace(self, stars=stars, rejected=False, automatic=False)

    def with_flag(self, flag: Flag) -> PhotoRating:
        """Pick, reject (which replaces the stars) or neither; the stars are kept otherwise
        (and stay the scorer's if they were)."""
        if flag == "reject":
            return PhotoRating(stars=0, rejected=True)
        if flag == "pick":
            return replace(self, picked=True, rejected=False)
        if flag is None:
            return replace(self, picked=False, rejected=False)
        raise ValueError(f"flag must be 'pick', 'reject' or None, not {flag!r}")

    def stars_text(self) -> str:
        return STAR * self.stars

    def label(self) -> str:
        """What a photographer reads: "★★★★", "★★★, picked", "rejected", "unrated"."""
        if self.rejected:
            return "rejected"
        parts = [self.stars_text()] if self.stars else []
        parts += ["picked"] if self.picked else []
        return ", ".join(parts) if parts else "unrated"

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
    problems: list[str] = field(default_factory=list)  # unreadable sidecars, one line each

    def add(self, rating: PhotoRating) -> None:
        self.total += 1
        if not rating.rated:
            return
        self.rated += 1
        if rating.rejected:
            self.rejected += 1
        elif rating.stars:
            self.stars[rating.stars] += 1
            self.automatic += rating.automatic
        else:
            self.picked += 1


# --- reading --------------------------------------------------------------------------


def read_photo_rating(photo: Path) -> PhotoRating:
    """The rating of ``photo`` from its sidecars (unrated when it has none).

    Raises :class:`CritiqueError` (one line, naming the file) if a sidecar cannot be
    read or is not valid XMP. Ratings outside -1..5 and unreadable pick labels are
    ignored here (rating the photo again replaces them).
    """
    return rating_from_sidecars([read_sidecar(path) for path in sidecar_paths(Path(photo))])


def read_ratings(photos: Iterable[Path], cancel: threading.Event | None = None,
                 ) -> Iterator[tuple[Path, PhotoRating | CritiqueError]]:
    """(photo, its rating or why it could not be read) for each photo, in order."""
    for photo in photos:
        check_cancelled(cancel)
        try:
            yield Path(photo), read_photo_rating(photo)
        except CritiqueError as error:
            yield Path(photo), error


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


def rating_from_sidecars(sidecars: list[Sidecar]) -> PhotoRating:
    """One photo's rating from its sidecars: a reject anywhere wins, then the first
    stars (automatic when Critique's scorer wrote them), then a pick."""
    stars, automatic, rejected, picked = 0, False, False, False
    for sidecar in sidecars:
        if not sidecar.exists:
            continue
        rating, label = sidecar.int_value(RATING), sidecar.int_value(PICK_LABEL)
        rejected = rejected or rating == -1 or label == PICK_REJECTED
        picked = picked or label == PICK_ACCEPTED
        if not stars and rating is not None and 1 <= rating <= 5:
            stars, automatic = rating, _automatic(sidecar, rating)
    return PhotoRating(stars, rejected, picked and not rejected, automatic and not rejected)


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
    new = change(read_photo_rating(photo))
    result = update_sidecars(photo, lambda sidecar: _changes(sidecar, new))
    return RatingUpdate(photo, new, result.written, result.unchanged, result.skipped)


def _changes(sidecar: Sidecar, new: PhotoRating) -> Changes:
    """What one sidecar needs so that it says ``new``, and nothing more."""
    changes: Changes = {}
    wanted = -1 if new.rejected else new.stars
    now = sidecar.int_value(RATING)
    bases = sidecar.values(RATING_BASIS)
    # The scorer's stars given again by the photographer: mark them as theirs.
    claim = wanted > 0 and not new.automatic and bool(bases) and set(bases) != {USER_BASIS}
    if (now != wanted and not (now is None and wanted == 0)) or claim:
        rating = str(wanted)
        changes = {RATING: rating, RATING_BASIS: USER_BASIS, WRITTEN_RATING: rating}
    label = sidecar.int_value(PICK_LABEL)
    if new.picked:
        if label != PICK_ACCEPTED or sidecar.first(PICK_LABEL) != str(PICK_ACCEPTED):
            changes[PICK_LABEL] = str(PICK_ACCEPTED)
    elif label == PICK_ACCEPTED or (label == PICK_REJECTED and not new.rejected):
        changes[PICK_LABEL] = None
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
