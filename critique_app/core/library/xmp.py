"""Star ratings in XMP sidecars, for Lightroom Classic, darktable and digiKam.

Sidecars (policy, see :func:`sidecar_paths`):

* ``IMG_1.CR2.xmp`` (``<name>.<ext>.xmp``) is read by darktable and digiKam and is
  always written or updated.
* ``IMG_1.xmp`` (``<stem>.xmp``) is what Lightroom reads, and only for RAW files (for
  JPEG/TIFF/PNG it reads the metadata embedded in the photo, which we never touch). It
  is written for RAW photos, and updated for any photo where it already exists, unless
  another photo in the folder shares the stem (RAW+JPEG pairs): then it could belong to
  that file too, so it is left alone and the skip is reported.

Existing sidecars are edited as text, rating only: every other byte stays as it was,
because re-serialising (ElementTree) renames namespace prefixes and drops formatting
that darktable and Lightroom rely on. The edit is checked by parsing the result with
defusedxml; user files are never read with the plain XML parsers.

Ratings we write carry ``critique:RatingSource`` (and ``critique:WrittenRating``) on the
same ``rdf:Description``. A non-zero rating without that marker, one that no longer
equals what we wrote, or one marked ``critique:RatingSource="user"`` (set in the app by
the photographer, see :mod:`critique_app.core.library.ratings`) was set by the photographer and
is kept unless the caller asks to overwrite it; so is a digiKam pick or reject flag
(``digiKam:PickLabel`` 3 or 1), the photographer's judgement of the photo.

:func:`update_sidecars` is the general edit underneath: any simple properties set or
removed, with the same byte-preserving, checked, atomic writes.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree as SafeET

from critique_app.core.photo.load import IMAGE_EXTENSIONS
from critique_app.core.photo.raw import RAW_EXTENSIONS
from critique_app.core.util.errors import CritiqueError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CRITIQUE_NS = "https://github.com/critique-photo/critique/ns/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
_XML_NS = "http://www.w3.org/XML/1998/namespace"

# RAW formats Lightroom keeps metadata for in a <stem>.xmp sidecar.
LIGHTROOM_RAW_EXTENSIONS = frozenset({
    ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef",
    ".dng", ".srw", ".x3f", ".3fr", ".iiq", ".rwl", ".erf", ".mrw", ".kdc", ".dcr",
})  # fmt: skip
# Files that may claim a <stem>.xmp of their own: photos, and videos (Lightroom keeps
# sidecars for some video formats too).
_VIDEO_EXTENSIONS = {
    ".mov", ".mp4", ".m4v", ".avi", ".mts", ".m2ts", ".mpg", ".mpeg", ".3gp", ".mkv",
}  # fmt: skip
_STEM_SHARING_EXTENSIONS = frozenset(
    IMAGE_EXTENSIONS | RAW_EXTENSIONS | LIGHTROOM_RAW_EXTENSIONS | _VIDEO_EXTENSIONS
)

Property = tuple[str, str]  # (namespace, local name) of a simple XMP property
Changes = dict[Property, str | None]  # what to set; None removes the property

RATING: Property = (XMP_NS, "Rating")  # 1-5 stars, 0 unrated, -1 rejected
RATING_SOURCE: Property = (CRITIQUE_NS, "RatingSource")
WRITTEN_RATING: Property = (CRITIQUE_NS, "WrittenRating")
PICK_LABEL: Property = (DIGIKAM_NS, "PickLabel")  # 0 none, 1 rejected, 2 pending, 3 accepted
USER_SOURCE = "user"  # RatingSource of a rating the photographer set in the app
_RATING, _SOURCE, _WRITTEN = RATING, RATING_SOURCE, WRITTEN_RATING
_PREFERRED_PREFIX = {XMP_NS: "xmp", CRITIQUE_NS: "critique", DIGIKAM_NS: "digiKam"}
_SOURCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # safe in an attribute as-is


@dataclass
class SidecarResult:
    """What :func:`write_rating` did for one photo."""

    written: list[Path] = field(default_factory=list)  # created or updated
    kept_manual: list[Path] = field(default_factory=list)  # hold the photographer's rating
    skipped: list[str] = field(default_factory=list)  # one line each: which sidecar and why
    unchanged: list[Path] = field(default_factory=list)  # already held this rating


@dataclass(frozen=True)
class Sidecar:
    """One sidecar as read (``root`` is None when it does not exist yet): what
    :func:`update_sidecars` shows its ``edit`` function, and :func:`read_sidecar` returns."""

    path: Path
    root: Element | None

    @property
    def exists(self) -> bool:
        return self.root is not None

    def values(self, prop: Property) -> list[str]:
        """Every value of ``prop`` on the top-level ``rdf:Description`` elements."""
        return [] if self.root is None else _values(self.root, prop)

    def first(self, prop: Property) -> str | None:
        return _first(self.values(prop))

    def int_value(self, prop: Property) -> int | None:
        """The first value as a whole number (as :func:`read_rating` reads it), or None."""
        return _to_int(self.first(prop))


def stars_from_percentile(p: float) -> int:
    """Stars for a photo whose score is at percentile ``p`` (0-100) within its folder.

    Top 10% (p >= 90) -> 5, next 20% (p >= 70) -> 4, middle 40% (p >= 30) -> 3,
    next 20% (p >= 10) -> 2, bottom 10% -> 1. With ``p = 100 * rank / (n - 1)`` (rank 0
    = lowest score) ten photos get 1, 2, 4, 2 and 1 photos of 1..5 stars.
    """
    if not 0 <= p <= 100:  # also refuses NaN
        raise ValueError(f"percentile must be within 0-100, not {p}")
    for threshold, stars in ((90, 5), (70, 4), (30, 3), (10, 2)):
        if p >= threshold:
            return stars
    return 1


def stars_from_mean(mean: float) -> int:
    """Stars for a mean score on the 1-10 scale: ``clip(round(mean / 2), 1, 5)``.

    Halves round up (not Python's round-half-to-even), so the bands are
    [1, 3) -> 1, [3, 5) -> 2, [5, 7) -> 3, [7, 9) -> 4, [9, 10] -> 5.
    """
    if not math.isfinite(mean):
        raise ValueError(f"mean score must be a finite number, not {mean}")
    return min(5, max(1, math.floor(mean / 2 + 0.5)))


def sidecar_paths(photo: Path) -> list[Path]:
    """The sidecars :func:`write_rating` writes or updates for ``photo``.

    Existing sidecars are returned under their actual names (``.XMP`` included). Only
    the folder listing is read.
    """
    return _plan_paths(Path(photo))[0]


def read_rating(sidecar: Path) -> int | None:
    """The ``xmp:Rating`` of ``sidecar`` (0 = unrated, -1 = rejected), or None if it has none.

    Raises :class:`CritiqueError` if the file cannot be read or is not valid XMP.
    """
    sidecar = Path(sidecar)
    root = _parse(_read(sidecar), sidecar)
    return _to_int(_first(_values(root, _RATING)))


def read_pick_label(sidecar: Path) -> int | None:
    """digiKam's ``PickLabel`` of ``sidecar`` (1 = rejected, 3 = accepted), or None.

    Raises :class:`CritiqueError` if the file cannot be read or is not valid XMP.
    """
    return read_sidecar(sidecar).int_value(PICK_LABEL)


def read_sidecar(sidecar: Path) -> Sidecar:
    """``sidecar`` parsed (``root`` None if there is no such file).

    Raises :class:`CritiqueError` if the file cannot be read or is not valid XMP.
    """
    sidecar = Path(sidecar)
    try:
        data = sidecar.read_bytes()
    except FileNotFoundError:
        return Sidecar(sidecar, None)
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})", path=sidecar) from None
    return Sidecar(sidecar, _parse(data, sidecar))


def write_rating(
    photo: Path, stars: int, *, source: str, overwrite_manual: bool = False
) -> SidecarResult:
    """Write ``stars`` (1-5) into the XMP sidecars of ``photo``; the photo itself is not opened.

    ``source`` says how the rating was made (e.g. ``"score-percentile"``, ``"score-mean"``)
    and is stored beside it. If any existing sidecar holds the photographer's rating,
    nothing is written (all sidecars of a photo should agree) unless ``overwrite_manual``.
    Every sidecar is read, edited and checked before any is written; each write is
    atomic. Raises :class:`CritiqueError` (one line, file left unchanged) for sidecars
    that are not valid XMP or cannot be written, ValueError for bad arguments.
    """
    stars = _check_stars(stars)
    if not isinstance(source, str) or not _SOURCE_PATTERN.fullmatch(source):
        raise ValueError(f"source must be a short word such as 'score-mean', not {source!r}")
    if source == USER_SOURCE:
        raise ValueError(f"source {USER_SOURCE!r} is kept for the photographer's own ratings "
                         "(critique_app.core.library.ratings)")
    plans, result = _read_sidecars(photo)
    manual = [plan for plan in plans if plan.manual]
    if manual and not overwrite_manual:
        result.kept_manual = [plan.path for plan in manual]
        result.skipped += [
            f"{plan.path.name}: not written; the photographer's rating in "
            f"{manual[0].path.name} is kept"
            for plan in plans
            if not plan.manual
        ]
        return result

    changes: Changes = {_RATING: str(stars), _SOURCE: source, _WRITTEN: str(stars)}
    for plan in plans:  # edit and check all before writing any
        _prepare(plan, changes)
    _write_plans(plans, result)
    return result


def update_sidecars(photo: Path, edit: Callable[[Sidecar], Changes]) -> SidecarResult:
    """Set or remove simple XMP properties in the sidecars of ``photo`` (the ones
    :func:`sidecar_paths` names); the photo itself is not opened.

    ``edit`` is called with each sidecar as read (one that does not exist yet has no
    ``root``) and returns the changes for it: property -> new value, or None to remove
    it; an empty dict leaves that sidecar alone (and does not create it). Ratings are
    not protected here: the caller decides. Every sidecar is read, edited and checked
    before any is written; each write is atomic; other bytes stay as they were. Raises
    :class:`CritiqueError` (one line, files left unchanged) for sidecars that are not
    valid XMP or cannot be written.
    """
    plans, result = _read_sidecars(photo)
    for plan in plans:  # edit and check all before writing any
        changes = edit(Sidecar(plan.path, plan.root))
        for (uri, _), value in changes.items():
            if uri not in _PREFERRED_PREFIX:
                raise ValueError(f"no prefix known for the namespace {uri}")
            if value is not None and not isinstance(value, str):
                raise ValueError(f"property values are text, not {value!r}")
        if changes:
            _prepare(plan, changes)
        elif plan.old is not None:
            plan.new = plan.old
    _write_plans(plans, result)
    return result


def _read_sidecars(photo: Path) -> tuple[list[_Plan], SidecarResult]:
    """Every sidecar of an existing ``photo``, read and parsed, and the result to fill."""
    photo = Path(photo)
    if not photo.is_file():
        raise CritiqueError("photo not found", path=photo)
    paths, skipped = _plan_paths(photo)
    return [_inspect(path) for path in paths], SidecarResult(skipped=skipped)


def _write_plans(plans: list[_Plan], result: SidecarResult) -> None:
    for plan in plans:
        if plan.old is None and plan.new is None:
            continue  # nothing to write into a sidecar that does not exist
        if plan.new == plan.old:
            result.unchanged.append(plan.path)  # rewriting would only touch the mtime
            continue
        _write_atomically(plan)
        result.written.append(plan.path)


# --- which files ----------------------------------------------------------------------


def _plan_paths(photo: Path) -> tuple[list[Path], list[str]]:
    if photo.suffix.lower() == ".xmp":
        raise ValueError(f"{photo} is a sidecar, not a photo")
    folder = photo.parent
    try:
        names = [entry.name for entry in os.scandir(folder) if _is_file(entry)]
    except OSError as error:
        raise CritiqueError(f"cannot list the folder ({error.strerror})", path=folder) from None

    paths = [_existing_sidecar(folder, names, photo.name) or folder / f"{photo.name}.xmp"]
    skipped: list[str] = []
    if not photo.suffix:  # <stem>.xmp would be the same file
        return paths, skipped
    stem_existing = _existing_sidecar(folder, names, photo.stem)
    if photo.suffix.lower() in LIGHTROOM_RAW_EXTENSIONS or stem_existing:
        stem_path = stem_existing or folder / f"{photo.stem}.xmp"
        # Case-insensitive: Lightroom pairs IMG_1.CR2 with img_1.jpg on macOS/Windows.
        sharing = sorted(
            name
            for name in names
            if name != photo.name
            and Path(name).suffix.lower() in _STEM_SHARING_EXTENSIONS
            and Path(name).stem.casefold() == photo.stem.casefold()
        )
        if sharing:
            skipped.append(
                f"{stem_path.name}: not written; {', '.join(sharing)} shares the name "
                f"{photo.stem} with {photo.name}"
            )
        else:
            paths.append(stem_path)
    return paths, skipped


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _existing_sidecar(folder: Path, names: list[str], base: str) -> Path | None:
    """``<base>.xmp`` if present, else ``<base>.XMP`` or another spelling of the suffix."""
    if f"{base}.xmp" in names:
        return folder / f"{base}.xmp"
    for name in sorted(names):
        if len(name) == len(base) + 4 and name.startswith(base) and name[-4:].lower() == ".xmp":
            return folder / name
    return None


# --- reading (defusedxml only) --------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})", path=path) from None


def _parse(data: bytes, path: Path) -> Element:
    try:
        # XMP has no DTDs; refusing them also refuses entity tricks.
        return SafeET.fromstring(data, forbid_dtd=True)
    except SafeET.ParseError as error:
        raise CritiqueError(f"not valid XMP ({error}); left unchanged", path=path) from None
    except defusedxml.DefusedXmlException:
        raise CritiqueError("not valid XMP (has a DTD); left unchanged", path=path) from None


def _descriptions(root: Element) -> list[Element]:
    """The top-level rdf:Description elements (not the ones nested in e.g. xmpMM:Pantry)."""
    rdf = next(root.iter(f"{{{RDF_NS}}}RDF"), None)
    return [] if rdf is None else rdf.findall(f"{{{RDF_NS}}}Description")


def _values(root: Element, prop: tuple[str, str]) -> list[str]:
    """All values of a simple property, in attribute or element form."""
    key = f"{{{prop[0]}}}{prop[1]}"
    values = []
    for description in _descriptions(root):
        if key in description.attrib:
            values.append(description.attrib[key])
        values += [child.text or "" for child in description.findall(key)]
    return values


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _to_int(value: str | None) -> int | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return round(number) if math.isfinite(number) else None


def _holds_manual_rating(root: Element) -> bool:
    if _to_int(_first(_values(root, PICK_LABEL))) in (1, 3):
        return True  # picked or rejected (digiKam): the photographer has judged it
    raw = _first(_values(root, _RATING))
    if raw is None or not raw.strip() or _to_int(raw) == 0:
        return False  # unrated
    sources = _values(root, _SOURCE)
    if not sources or USER_SOURCE in sources:
        return True
    written = _to_int(_first(_values(root, _WRITTEN)))
    # Marker present but the rating changed since: the photographer re-rated it.
    return written is not None and written != _to_int(raw)


# --- editing --------------------------------------------------------------------------


@dataclass
class _Plan:
    path: Path
    old: bytes | None  # None: a new sidecar
    root: Element | None
    stat: os.stat_result | None
    manual: bool
    new: bytes | None = None


def _inspect(path: Path) -> _Plan:
    try:
        before = path.stat()
    except FileNotFoundError:
        return _Plan(path, None, None, None, manual=False)
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})", path=path) from None
    old = _read(path)
    root = _parse(old, path)
    return _Plan(path, old, root, before, manual=_holds_manual_rating(root))


def _prepare(plan: _Plan, changes: Changes) -> None:
    if plan.old is None:
        plan.new = _packet(changes)
    else:
        assert plan.stat is not None
        if stat.S_IMODE(plan.stat.st_mode) & 0o222 == 0:
            # A rename would replace it regardless; read-only means "leave it".
            raise CritiqueError("the sidecar is read-only; left unchanged", path=plan.path)
        plan.new = _edited(plan.old, plan.path, changes)
    _verify(plan.root, plan.new, plan.path, changes)


def _new_packet(stars: int, source: str) -> bytes:
    return _packet({_RATING: str(stars), _SOURCE: source, _WRITTEN: str(stars)})


def _packet(changes: Changes) -> bytes:
    """A new sidecar holding the properties of ``changes`` that are set."""
    props = [(prop, value) for prop, value in changes.items() if value is not None]
    uris = list(dict.fromkeys(uri for (uri, _), _ in props))
    lines = ['<x:xmpmeta xmlns:x="adobe:ns:meta/">', f' <rdf:RDF xmlns:rdf="{RDF_NS}">',
             '  <rdf:Description rdf:about=""']
    lines += [f'    xmlns:{_PREFERRED_PREFIX[uri]}="{uri}"' for uri in uris]
    lines += [f'   {_PREFERRED_PREFIX[uri]}:{local}="{_escape(value)}"'
              for (uri, local), value in props]
    lines[-1] += "/>"
    lines += [" </rdf:RDF>", "</x:xmpmeta>", ""]
    return "\n".join(lines).encode()


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _verify(old_root: Element | None, new: bytes, path: Path, changes: Changes) -> None:
    """The edit parses, reads back as intended, and changed nothing but those properties."""
    failed = CritiqueError("could not update the rating safely; left unchanged", path=path)
    try:
        new_root = SafeET.fromstring(new, forbid_dtd=True)
    except (SafeET.ParseError, defusedxml.DefusedXmlException):
        raise failed from None
    for prop, wanted in changes.items():
        values = _values(new_root, prop)
        if (values != []) if wanted is None else (values == [] or set(values) != {wanted}):
            raise failed
    skip = frozenset(f"{{{uri}}}{local}" for uri, local in changes)
    if old_root is not None and _shape(old_root, skip) != _shape(new_root, skip):
        raise failed


def _shape(root: Element, skip: frozenset[str]) -> tuple:
    """The tree minus the ``skip`` properties on the top-level descriptions, for comparison.

    Whitespace-only text counts as none: removing a property element also removes the
    line it stood on, which moves the indentation of its neighbours.
    """
    tops = {id(description) for description in _descriptions(root)}

    def walk(element: Element) -> tuple:
        ours = skip if id(element) in tops else frozenset()
        attributes = sorted(item for item in element.attrib.items() if item[0] not in ours)
        children = tuple(walk(child) for child in element if child.tag not in ours)
        return element.tag, tuple(attributes), _text(element.text), _text(element.tail), children

    return walk(root)


def _text(text: str | None) -> str | None:
    return text if text and text.strip() else None


# A tokenizer just good enough to locate tags in a document expat has already accepted.
_NAME = r"[^\s=/<>\"']+"
_VALUE = r"(?:\"[^\"]*\"|'[^']*')"
_MARKUP = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
    rf"|</(?P<end>{_NAME})\s*>"
    rf"|<(?P<start>{_NAME})(?P<attrs>(?:\s+{_NAME}\s*=\s*{_VALUE})*)\s*(?P<empty>/?)>",
    re.S,
)
_ATTRIBUTE = re.compile(
    rf"(?P<sep>\s+)(?P<name>{_NAME})\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')"
)
_REFERENCE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class _CannotEdit(Exception):
    pass


@dataclass
class _Attribute:
    name: str
    key: tuple[str | None, str]  # (namespace, local name)
    value: str
    span: tuple[int, int]  # of the raw value, inside the quotes
    sep: str  # the whitespace before it
    whole: tuple[int, int]  # the whitespace before it, the name, "=", the quoted value


@dataclass(eq=False)
class _Tag:
    name: str
    key: tuple[str | None, str]
    parent: _Tag | None
    scope: dict[str, str]  # prefix -> namespace, own declarations included
    attributes: list[_Attribute]
    start: int
    attributes_end: int  # where a new attribute goes
    start_tag_end: int
    empty: bool
    end_tag_start: int | None = None
    end: int | None = None  # after the end tag (the start tag when empty)


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        ref = match[1]
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        return chr(int(ref[1:])) if ref.startswith("#") else _ENTITIES[ref]

    return _REFERENCE.sub(one, value)


def _scan(text: str) -> list[_Tag]:
    tags: list[_Tag] = []
    open_tags: list[_Tag] = []
    position = text.find("<")
    while position != -1:
        match = _MARKUP.match(text, position)
        if match is None:
            raise _CannotEdit
        if match["end"] is not None:
            if not open_tags:
                raise _CannotEdit
            closed = open_tags.pop()
            closed.end_tag_start, closed.end = position, match.end()
        elif match["start"] is not None:
            tag = _start_tag(match, open_tags[-1] if open_tags else None)
            tags.append(tag)
            if tag.empty:
                tag.end = tag.start_tag_end
            else:
                open_tags.append(tag)
        position = text.find("<", match.end())
    return tags


def _start_tag(match: re.Match[str], parent: _Tag | None) -> _Tag:
    base = match.start("attrs")
    raw = []
    for found in _ATTRIBUTE.finditer(match["attrs"]):
        group = "dq" if found["dq"] is not None else "sq"
        span = (base + found.start(group), base + found.end(group))
        whole = (base + found.start(), base + found.end())
        raw.append((found["name"], _unescape(found[group]), span, found["sep"], whole))
    scope = dict(parent.scope) if parent else {"xml": _XML_NS}
    for name, value, _, _, _ in raw:
        if name == "xmlns" or name.startswith("xmlns:"):
            scope[name[6:]] = value  # "" is the default namespace
    attributes = [
        _Attribute(name, _attribute_key(name, scope), value, span, sep, whole)
        for name, value, span, sep, whole in raw
        if name != "xmlns" and not name.startswith("xmlns:")
    ]
    prefix, _, local = match["start"].rpartition(":")
    return _Tag(
        name=match["start"],
        key=(scope.get(prefix) or None, local),
        parent=parent,
        scope=scope,
        attributes=attributes,
        start=match.start(),
        attributes_end=match.end("attrs"),
        start_tag_end=match.end(),
        empty=bool(match["empty"]),
    )


def _attribute_key(name: str, scope: dict[str, str]) -> tuple[str | None, str]:
    prefix, _, local = name.rpartition(":")
    return (scope.get(prefix) if prefix else None), local  # no default namespace here


def _edited(data: bytes, path: Path, changes: Changes) -> bytes:
    try:
        text = data.decode("utf-8")  # a BOM survives as U+FEFF
    except UnicodeDecodeError:
        raise CritiqueError("not UTF-8 XMP; left unchanged", path=path) from None
    try:
        tags = _scan(text)
    except _CannotEdit:
        raise CritiqueError("XMP too unusual to edit safely; left unchanged", path=path) from None
    rdf = next((tag for tag in tags if tag.key == (RDF_NS, "RDF")), None)
    descriptions = [tag for tag in tags if tag.parent is rdf and tag.key == (RDF_NS, "Description")]
    if rdf is None or not descriptions:
        raise CritiqueError("no rdf:Description to hold a rating; left unchanged", path=path)

    edits: list[tuple[int, int, str]] = []
    ratings = _occurrences(tags, descriptions, _RATING)
    target = ratings[0][0] if ratings else descriptions[0]  # the marker goes beside the rating
    missing: list[tuple[tuple[str, str], str]] = []
    for prop, value in changes.items():
        found = _occurrences(tags, descriptions, prop)
        if value is None:
            edits += [_removal(text, where) for _, where in found]
            continue
        edits += [_replacement(text, where, _escape(value)) for _, where in found]
        if not found:
            missing.append((prop, _escape(value)))
    if missing:
        edits.append(_insertion(target, missing))

    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text.encode("utf-8")


def _occurrences(
    tags: list[_Tag], descriptions: list[_Tag], prop: tuple[str, str]
) -> list[tuple[_Tag, _Attribute | _Tag]]:
    found: list[tuple[_Tag, _Attribute | _Tag]] = []
    for description in descriptions:
        found += [(description, a) for a in description.attributes if a.key == prop]
        found += [(description, t) for t in tags if t.parent is description and t.key == prop]
    return found


def _replacement(text: str, where: _Attribute | _Tag, value: str) -> tuple[int, int, str]:
    if isinstance(where, _Attribute):
        return where.span[0], where.span[1], value
    if where.empty:  # <xmp:Rating/> -> <xmp:Rating>4</xmp:Rating>
        opening = text[where.start : where.attributes_end]
        return where.start, where.start_tag_end, f"{opening}>{value}</{where.name}>"
    assert where.end_tag_start is not None
    return where.start_tag_end, where.end_tag_start, value


def _removal(text: str, where: _Attribute | _Tag) -> tuple[int, int, str]:
    """Delete an attribute with the whitespace before it, or an element with its line."""
    if isinstance(where, _Attribute):
        return where.whole[0], where.whole[1], ""
    assert where.end is not None
    start = where.start
    while start > 0 and text[start - 1] in " \t\r\n":
        start -= 1
    if start > 0 and text[start - 1] != ">":  # text before it: keep the whitespace
        start = where.start
    return start, where.end, ""


def _insertion(
    description: _Tag, missing: list[tuple[tuple[str, str], str]]
) -> tuple[int, int, str]:
    """New attributes (and namespace declarations) after the tag's last attribute."""
    prefixes: dict[str, str] = {}
    items = []
    for (uri, _), _ in missing:
        if uri in prefixes:
            continue
        bound = [p for p, u in description.scope.items() if u == uri and p not in ("", "xml")]
        preferred = _PREFERRED_PREFIX[uri]
        if bound:
            prefixes[uri] = preferred if preferred in bound else bound[0]
        else:
            prefix, n = preferred, 0
            while prefix in description.scope:  # bound to something else in this scope
                n += 1
                prefix = f"{preferred}{n}"
            prefixes[uri] = prefix
            items.append(f'xmlns:{prefix}="{uri}"')
    items += [f'{prefixes[uri]}:{local}="{value}"' for (uri, local), value in missing]
    # Reuse the layout of the last attribute (Lightroom and darktable: one per line).
    sep = description.attributes[-1].sep if description.attributes else " "
    at = description.attributes_end
    return at, at, "".join(sep + item for item in items)


# --- writing --------------------------------------------------------------------------


def _write_atomically(plan: _Plan) -> None:
    """Temp file in the same folder, fsync, os.replace; the old file intact on failure."""
    path = plan.path.resolve() if plan.path.is_symlink() else plan.path
    temp: str | None = None
    try:
        _check_unchanged_since_read(plan)
        mode = None if plan.stat is None else stat.S_IMODE(plan.stat.st_mode)
        # 0o666 lets the umask decide for new sidecars, as for any new file.
        fd, temp = _create_temp(path, 0o666 if mode is None else 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(plan.new)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
        temp = None
    except OSError as error:
        reason = error.strerror or str(error)
        raise CritiqueError(f"could not write the sidecar ({reason})", path=plan.path) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    _fsync_folder(path.parent)


def _check_unchanged_since_read(plan: _Plan) -> None:
    """Another program (darktable, a sync client) may have written it meanwhile."""
    try:
        now = plan.path.stat()
    except FileNotFoundError:
        now = None
    same = (now is None and plan.stat is None) or (
        now is not None
        and plan.stat is not None
        and (now.st_mtime_ns, now.st_size, now.st_ino)
        == (plan.stat.st_mtime_ns, plan.stat.st_size, plan.stat.st_ino)
    )
    if not same:
        raise CritiqueError("the sidecar changed while it was being updated", path=plan.path)


def _create_temp(path: Path, mode: int) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; not possible on Windows)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_stars(stars: int) -> int:
    if isinstance(stars, bool):
        raise ValueError("stars must be a whole number from 1 to 5, not a bool")
    try:
        stars = operator.index(stars)  # numpy integers too
    except TypeError:
        raise ValueError(f"stars must be a whole number from 1 to 5, not {stars!r}") from None
    if not 1 <= stars <= 5:
        raise ValueError(f"stars must be from 1 to 5, not {stars}")
    return stars
