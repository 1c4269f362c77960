"""The check every edited sidecar passes before it is written: it changed only what was asked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree as SafeET

from critique_app.core.library.xmp._properties import Changes
from critique_app.core.library.xmp._reading import descriptions, values
from critique_app.core.util.errors import CritiqueError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


def verify(old_root: Element | None, new: bytes, path: Path, changes: Changes) -> None:
    """The edit parses, reads back as intended, and changed nothing but those properties."""
    failed = CritiqueError("could not update the rating safely; left unchanged", path=path)
    try:
        new_root = SafeET.fromstring(new, forbid_dtd=True)
    except (SafeET.ParseError, defusedxml.DefusedXmlException):
        raise failed from None
    for prop, wanted in changes.items():
        found = values(new_root, prop)
        if (found != []) if wanted is None else (found == [] or set(found) != {wanted}):
            raise failed
    skip = frozenset(f"{{{uri}}}{local}" for uri, local in changes)
    if old_root is not None and _shape(old_root, skip) != _shape(new_root, skip):
        raise failed


def _shape(root: Element, skip: frozenset[str]) -> tuple:
    """The tree minus the ``skip`` properties on the top-level descriptions, for comparison.

    Whitespace-only text counts as none: removing a property element also removes the
    line it stood on, which moves the indentation of its neighbours.
    """
    tops = {id(description) for description in descriptions(root)}

    def walk(element: Element) -> tuple:
        ours = skip if id(element) in tops else frozenset()
        attributes = sorted(item for item in element.attrib.items() if item[0] not in ours)
        children = tuple(walk(child) for child in element if child.tag not in ours)
        return element.tag, tuple(attributes), _text(element.text), _text(element.tail), children

    return walk(root)


def _text(text: str | None) -> str | None:
    return text if text and text.strip() else None
