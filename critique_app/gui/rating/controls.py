"""Rating photos in the app: the stars / pick / reject bar, and the controller that reads
and writes the ratings in XMP sidecars off the UI thread.

Every read and write runs on one single-thread bridge, so they happen in the order they
were asked for. A rating shows at once (the key press is the truth), the write follows;
its result (or the error, then the file's real rating) replaces what was shown. A read
that was asked for before a later write to the same photo is dropped on arrival.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from critique_app.core.library.ratings import (
    NO_STAR,
    STAR,
    Flag,
    PhotoRating,
    RatingUpdate,
    read_photo_rating,
    read_ratings,
    set_flag,
    set_stars,
)
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.bridge import Bridge, Task

GOLD, GREY, PICK_GREEN, REJECT_RED = "#e8b923", "#8a8a8e", "#3f9f58", "#d64541"
WHITE, LIGHT_GREY, LIGHT_GREEN = "#ffffff", "#c8c8cc", "#6fd08c"  # on a dark or red pill
KEYS_HINT = "keys: 1–5 stars · 0 clear · P pick · X reject · U unflag"
FINE_TUNE_HINT = "Tools ▸ Fine-tune… ▸ Personal taste to learn from them"
WHERE_SAVED = ("Ratings are saved in XMP sidecars next to the photos, where Lightroom, "
               "darktable and digiKam read them too; the photos themselves are never changed. "
               "Ratings embedded in a photo's own XMP are read too; a sidecar's wins.")


def automatic_note(rating: PhotoRating | None) -> str:
    return "stars from the score, not yours yet" if rating and rating.automatic else ""


def read_from_note(rating: PhotoRating | None) -> str:
    """Where a rating was read, for the rating bar: "embedded in IMG_1.jpg (its own XMP)",
    plus a note read along (a wrong extension, an unread packet); "" when unrated or set
    in Critique (the usual case: the tooltips still say so)."""
    if rating is None:
        return ""
    parts = [rating.read_from_text()] if rating.rated and rating.read_from != "critique" else []
    if rating.read_from == "embedded":
        parts.append("rating it here saves a sidecar, which wins")
    if rating.note:
        parts.append(rating.note)
    return " · ".join(part for part in parts if part)


def rating_tip(rating: PhotoRating | None, problem: str | None = None) -> str:
    """The rating as a tooltip line, with where it came from: "★★★★ — embedded in
    IMG_1.jpg (its own XMP)"; the problem when unreadable; "" when unrated."""
    if rating is None:
        return problem or ""
    if not rating.rated:
        return rating.note
    note = " (from the score)" if rating.automatic else ""
    where = rating.read_from_text()
    text = f"{rating.label()}{note}" + (f" — {where}" if where else "")
    return f"{text}\n{rating.note}" if rating.note else text


def badge(rating: PhotoRating | None, problem: str | None = None,
          ) -> tuple[list[tuple[str, str]], str | None, str]:
    """(parts, pill, tooltip line) for a thumbnail (see Filmstrip.set_badge): gold stars (grey
    when the score wrote them), a green ⚑, a white ✕ on red, a "?" on red for an unreadable
    sidecar; no parts for none."""
    if rating is None:
        return ([("?", WHITE)], REJECT_RED, problem) if problem else ([], None, "")
    if rating.rejected:
        return [("✕", WHITE)], REJECT_RED, rating_tip(rating)
    parts = []
    if rating.stars:
        parts.append((rating.stars_text(), LIGHT_GREY if rating.automatic else GOLD))
    if rating.picked:
        parts.append(("⚑", LIGHT_GREEN))
    return parts, None, rating_tip(rating) if parts else rating.note


class RatingsController(QObject):
    """The ratings of the open folder's photos (and of a photo opened on its own)."""

    ratingChanged = Signal(object, object)  # (photo Path, PhotoRating or None if unreadable)
    ratingsChanged = Signal(object, int)  # (folder Path, rated photos): loaded or saved
    status = Signal(str)  # one line for the status bar

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge  # one thread: reads and writes in order
        self.folder: Path | None = None
        self._photos: list[Path] = []
        self._in_folder: set[Path] = set()  # the same photos, for membership
        self._ratings: dict[Path, PhotoRating] = {}
        self._problems: dict[Path, str] = {}  # unreadable sidecars
        self._save_errors: dict[Path, str] = {}  # the last write failed
        self._writes: dict[Path, int] = {}  # how many writes were asked for, per photo
        self._load: Task | None = None

    # --- reading -----------------------------------------------------------------
    def set_folder(self, folder: Path | None, photos: list[Path]) -> None:
        """Forget the old folder; read the new one's ratings (results arrive as they come)."""
        if self._load is not None:
            self._load.cancel()
        self.folder, self._photos = (Path(folder) if folder else None), [Path(p) for p in photos]
        self._in_folder = set(self._photos)
        self._ratings, self._problems = {}, {}
        self.reload()

    def reload(self) -> None:
        """Read every photo's rating again (e.g. after the Folder page wrote some)."""
        if self._load is not None:
            self._load.cancel()
        self._load = None
        if not self._photos:
            return
        photos, asked = list(self._photos), dict(self._writes)
        self._load = self.bridge.stream(
            "read ratings", lambda task: read_ratings(photos, task.cancel_event),
            on_item=lambda item: self._read(item, asked.get(item[0], 0)),
            on_done=lambda _: self._emit_count())

    def ensure(self, photo: Path) -> None:
        """Read ``photo``'s rating unless it is known (or being read with its folder)."""
        self.ensure_many([photo])

    def ensure_many(self, photos) -> None:
        """:meth:`ensure` for many photos: the unknown ones are read in one task (a few
        thousand tasks of one read each would hold up the UI thread)."""
        wanted = [photo for photo in map(Path, photos) if not self._known_or_loading(photo)]
        if not wanted:
            return
        asked = {photo: self._writes.get(photo, 0) for photo in wanted}
        self.bridge.stream(f"read rating {wanted[0].name}" if len(wanted) == 1
                           else f"read {len(wanted)} ratings",
                           lambda task: read_ratings(wanted, task.cancel_event),
                           on_item=lambda item: self._read(item, asked[item[0]]))

    def _known_or_loading(self, photo: Path) -> bool:
        loading = self._load is not None and self._load.running and photo in self._in_folder
        return photo in self._ratings or photo in self._problems or loading

    def rating(self, photo: Path) -> PhotoRating | None:
        """What is known of ``photo``'s rating; None while unknown or unreadable."""
        return self._ratings.get(Path(photo))

    @property
    def photos(self) -> list[Path]:
        """The open folder's photos."""
        return list(self._photos)

    def problem(self, photo: Path) -> str | None:
        """Why ``photo``'s last rating was not saved or its sidecar cannot be read; or None."""
        photo = Path(photo)
        return self._save_errors.get(photo) or self._problems.get(photo)

    def counts(self) -> tuple[int, int]:
        """(rated photos, photos) in the open folder, as far as read."""
        rated = sum(1 for p in self._photos if (r := self._ratings.get(p)) and r.rated)
        return rated, len(self._photos)

    @property
    def loading(self) -> bool:
        return self._load is not None and self._load.running

    def count_text(self) -> str:
        rated, total = self.counts()
        return f"{rated} of {total} photo{'s' if total != 1 else ''} rated"

    # --- writing -----------------------------------------------------------------
    def rate_stars(self, photo: Path, stars: int) -> None:
        self._rate(Path(photo), lambda r: r.with_stars(stars), lambda p: set_stars(p, stars))

    def rate_flag(self, photo: Path, flag: Flag) -> None:
        self._rate(Path(photo), lambda r: r.with_flag(flag), lambda p: set_flag(p, flag))

    def _rate(self, photo: Path, change, write) -> None:
        shown = change(self._ratings.get(photo) or PhotoRating())
        ticket = self._writes[photo] = self._writes.get(photo, 0) + 1
        self._problems.pop(photo, None)
        self._show(photo, shown)
        self.bridge.call(f"rate {photo.name}", lambda task: write(photo),
                         on_done=lambda update: self._saved(update, ticket),
                         on_error=lambda message: self._failed(photo, message, ticket))

    # --- results (UI thread) -------------------------------------------------------
    def _read(self, item: tuple[Path, PhotoRating | CritiqueError], asked: int) -> None:
        photo, rating = item
        if self._writes.get(photo, 0) != asked:
            return  # read before a later write: stale
        if isinstance(rating, CritiqueError):
            self._problems[photo] = str(rating)
            self._ratings.pop(photo, None)
            self.ratingChanged.emit(photo, None)
        else:
            self._problems.pop(photo, None)
            self._show(photo, rating)

    def _saved(self, update: RatingUpdate, ticket: int) -> None:
        if self._writes.get(update.photo) == ticket:  # the latest write: the file's truth
            self._save_errors.pop(update.photo, None)
            self._show(update.photo, update.rating)
        message = update.message()
        if self.folder is not None and update.photo in self._in_folder:
            message += f" · {self.count_text()} — {FINE_TUNE_HINT}"
        self.status.emit(message)
        self._emit_count()

    def _failed(self, photo: Path, message: str, ticket: int) -> None:
        self.status.emit(f"rating not saved: {message}")
        if self._writes.get(photo) == ticket:  # show what the file really says
            self._save_errors[photo] = "not saved: " + message.replace(
                f"{photo.parent}{os.sep}", "")
            self.bridge.call(f"read rating {photo.name}", lambda task: _read_one(photo),
                             on_done=lambda item: self._read(item, ticket))

    def _show(self, photo: Path, rating: PhotoRating) -> None:
        self._ratings[photo] = rating
        self.ratingChanged.emit(photo, rating)

    def _emit_count(self) -> None:
        if self.folder is not None:
            self.ratingsChanged.emit(self.folder, self.counts()[0])


def _read_one(photo: Path) -> tuple[Path, PhotoRating | CritiqueError]:
    try:
        return photo, read_photo_rating(photo)
    except CritiqueError as error:
        return photo, error


class _ElidedLabel(QLabel):
    """One line that shortens itself (…) instead of widening the layout; the full text
    is its tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self._full, Qt.TextElideMode.ElideRight, self.width()))
        self.setToolTip(self._full if self.text() != self._full else "")


class RatingBar(QWidget):
    """Five clickable stars, pick and reject, and how many photos of the folder are rated.

    Clicking the current number of stars clears them; clicking the current flag clears it.
    """

    starsClicked = Signal(int)  # 0-5
    flagClicked = Signal(object)  # "pick", "reject" or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rating: PhotoRating | None = None
        self.stars: list[QToolButton] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(0)
        for n in range(1, 6):
            button = self._button(STAR, f"{n} star{'s' if n > 1 else ''} ({n}); "
                                        "click again to clear (0)")
            button.clicked.connect(lambda _=False, n=n: self._star_clicked(n))
            font = button.font()
            font.setPointSizeF(font.pointSizeF() * 1.35)
            button.setFont(font)
            button.setFixedWidth(button.fontMetrics().horizontalAdvance(STAR) + 8)
            self.stars.append(button)
            layout.addWidget(button)
        layout.addSpacing(10)
        self.pick = self._button("⚑ Pick", "Pick: a keeper (P); U clears it")
        self.reject = self._button("✕ Reject", "Reject (X); U clears it")
        for button, flag in ((self.pick, "pick"), (self.reject, "reject")):
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, flag=flag: self._flag_clicked(flag))
            layout.addWidget(button)
        layout.addSpacing(10)
        self.note = _ElidedLabel()
        layout.addWidget(self.note, 1)
        layout.addSpacing(10)
        self.count = QLabel()
        self.count.setToolTip(f"{WHERE_SAVED}\n{FINE_TUNE_HINT.replace(' to learn', ' learns')}.")
        self.count.setStyleSheet(f"color: {GREY};")
        layout.addWidget(self.count)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip(WHERE_SAVED)
        self.set_rating(None, enabled=False)

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(text=text, toolTip=tip, autoRaise=True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the keys with the filmstrip
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        return button

    # --- public ------------------------------------------------------------------
    def set_rating(self, rating: PhotoRating | None, *, enabled: bool = True,
                   problem: str | None = None) -> None:
        """Show ``rating`` (None: not known yet, or unreadable when ``problem`` says why)."""
        self._rating = rating
        self.setEnabled(enabled)
        shown = rating or PhotoRating()
        colour = GREY if shown.automatic or shown.rejected else GOLD
        for n, button in enumerate(self.stars, start=1):
            filled = n <= shown.stars and not shown.rejected
            button.setText(STAR if filled else NO_STAR)
            button.setStyleSheet(f"color: {colour if filled else GREY};")
        self.pick.setChecked(shown.picked)
        self.reject.setChecked(shown.rejected)
        self.pick.setStyleSheet(f"color: {PICK_GREEN}; font-weight: bold;" if shown.picked else "")
        self.reject.setStyleSheet(f"color: {REJECT_RED}; font-weight: bold;"
                                  if shown.rejected else "")
        status = " · ".join(part for part in (automatic_note(rating), read_from_note(rating))
                            if part)
        self.note.set_full_text(problem or (f"{status} · {KEYS_HINT}" if status else KEYS_HINT))
        self.note.setStyleSheet(f"color: {REJECT_RED if problem else GREY};")

    def rating(self) -> PhotoRating | None:
        return self._rating

    def set_count(self, text: str) -> None:
        self.count.setText(text)

    def stars_shown(self) -> int:
        return sum(button.text() == STAR for button in self.stars)

    # --- internals ---------------------------------------------------------------
    def _star_clicked(self, n: int) -> None:
        current = self._rating.stars if self._rating and not self._rating.rejected else 0
        self.starsClicked.emit(0 if n == current else n)

    def _flag_clicked(self, flag: str) -> None:
        current = self._rating.flag if self._rating else None
        self.flagClicked.emit(None if flag == current else flag)
        shown = self._rating or PhotoRating()  # the checked state follows the rating
        self.pick.setChecked(shown.picked)
        self.reject.setChecked(shown.rejected)


__all__ = ["FINE_TUNE_HINT", "KEYS_HINT", "RatingBar", "RatingsController", "badge",
           "rating_tip", "read_from_note"]
