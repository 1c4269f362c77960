"""Writing XMP as text: the byte-preserving edit of an existing sidecar, and a new one's packet.

Existing sidecars are edited as text: every byte but the changed properties stays as it
was, because re-serialising (ElementTree) renames namespace prefixes and drops formatting
that darktable and Lightroom rely on.
"""

from __future__ import annotations

from pathlib import Path

from critique_app.core.library.xmp._properties import (
    PREFERRED_PREFIX,
    RATING,
    RDF_NS,
    Changes,
)
from critique_app.core.library.xmp._xml_tags import Attribute, CannotEdit, Tag, scan
from critique_app.core.util.errors import CritiqueError


def new_packet(changes: Changes) -> bytes:
    """A new sidecar holding the properties of ``changes`` that are set."""
    props = [(prop, value) for prop, value in changes.items() if value is not None]
    uris = list(dict.fromkeys(uri for (uri, _), _ in props))
    lines = ['<x:xmpmeta xmlns:x="adobe:ns:meta/">', f' <rdf:RDF xmlns:rdf="{RDF_NS}">',
             '  <rdf:Description rdf:about=""']
    lines += [f'    xmlns:{PREFERRED_PREFIX[uri]}="{uri}"' for uri in uris]
    lines += [f'   {PREFERRED_PREFIX[uri]}:{local}="{_escape(value)}"'
              for (uri, local), value in props]
    lines[-1] += "/>"
    lines += [" </rdf:RDF>", "</x:xmpmeta>", ""]
    return "\n".join(lines).encode()


def edit_text(data: bytes, path: Path, changes: Changes) -> bytes:
    """``data`` (an existing sidecar, already parsed once) with ``changes`` made in place."""
    try:
        text = data.decode("utf-8")  # a BOM survives as U+FEFF
    except UnicodeDecodeError:
        raise CritiqueError("not UTF-8 XMP; left unchanged", path=path) from None
    try:
        tags = scan(text)
    except CannotEdit:
        raise CritiqueError("XMP too unusual to edit safely; left unchanged", path=path) from None
    rdf = next((tag for tag in tags if tag.key == (RDF_NS, "RDF")), None)
    descriptions = [tag for tag in tags if tag.parent is rdf and tag.key == (RDF_NS, "Description")]
    if rdf is None or not descriptions:
        raise CritiqueError("no rdf:Description to hold a rating; left unchanged", path=path)

    edits: list[tuple[int, int, str]] = []
    ratings = _occurrences(tags, descriptions, RATING)
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


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _occurrences(
    tags: list[Tag], descriptions: list[Tag], prop: tuple[str, str]
) -> list[tuple[Tag, Attribute | Tag]]:
    found: list[tuple[Tag, Attribute | Tag]] = []
    for description in descriptions:
        found += [(description, a) for a in description.attributes if a.key == prop]
        found += [(description, t) for t in tags if t.parent is description and t.key == prop]
    return found


def _replacement(text: str, where: Attribute | Tag, value: str) -> tuple[int, int, str]:
    if isinstance(where, Attribute):
        return where.span[0], where.span[1], value
    if where.empty:  # <xmp:Rating/> -> <xmp:Rating>4</xmp:Rating>
        opening = text[where.start : where.attributes_end]
        return where.start, where.start_tag_end, f"{opening}>{value}</{where.name}>"
    assert where.end_tag_start is not None
    return where.start_tag_end, where.end_tag_start, value


def _removal(text: str, where: Attribute | Tag) -> tuple[int, int, str]:
    """Delete an attribute with the whitespace before it, or an element with its line."""
    if isinstance(where, Attribute):
        return where.whole[0], where.whole[1], ""
    assert where.end is not None
    start = where.start
    while start > 0 and text[start - 1] in " \t\r\n":
        start -= 1
    if start > 0 and text[start - 1] != ">":  # text before it: keep the whitespace
        start = where.start
    return start, where.end, ""


def _insertion(
    description: Tag, missing: list[tuple[tuple[str, str], str]]
) -> tuple[int, int, str]:
    """New attributes (and namespace declarations) after the tag's last attribute."""
    prefixes: dict[str, str] = {}
    items = []
    for (uri, _), _ in missing:
        if uri in prefixes:
            continue
        bound = [p for p, u in description.scope.items() if u == uri and p not in ("", "xml")]
        preferred = PREFERRED_PREFIX[uri]
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
