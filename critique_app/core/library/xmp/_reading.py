"""Reading sidecars, with defusedxml only: parsing, and the values of simple properties."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import defusedxml
import defusedxml.ElementTree as SafeET

from critique_app.core.library.xmp._properties import PICK_LABEL, RATING, RDF_NS, Property
from critique_app.core.util.errors import CritiqueError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


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
        return [] if self.root is None else values(self.root, prop)

    def first(self, prop: Property) -> str | None:
        return first(self.values(prop))

    def int_value(self, prop: Property) -> int | None:
        """The first value as a whole number (as :func:`read_rating` reads it), or None."""
        return to_int(self.first(prop))


def read_rating(sidecar: Path) -> int | None:
    """The ``xmp:Rating`` of ``sidecar`` (0 = unrated, -1 = rejected), or None if it has none.

    Raises :class:`CritiqueError` if the file cannot be read or is not valid XMP.
    """
    sidecar = Path(sidecar)
    root = parse(read_bytes(sidecar), sidecar)
    return to_int(first(values(root, RATING)))


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
    return Sidecar(sidecar, parse(data, sidecar))


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})", path=path) from None


def parse(data: bytes, path: Path) -> Element:
    try:
        # XMP has no DTDs; refusing them also refuses entity tricks.
        return SafeET.fromstring(data, forbid_dtd=True)
    except SafeET.ParseError as error:
        raise CritiqueError(f"not valid XMP ({error}); left unchanged", path=path) from None
    except defusedxml.DefusedXmlException:
        raise CritiqueError("not valid XMP (has a DTD); left unchanged", path=path) from None


def descriptions(root: Element) -> list[Element]:
    """The top-level rdf:Description elements (not the ones nested in e.g. xmpMM:Pantry)."""
    rdf = next(root.iter(f"{{{RDF_NS}}}RDF"), None)
    return [] if rdf is None else rdf.findall(f"{{{RDF_NS}}}Description")


def values(root: Element, prop: Property) -> list[str]:
    """All values of a simple property, in attribute or element form."""
    key = f"{{{prop[0]}}}{prop[1]}"
    found = []
    for description in descriptions(root):
        if key in description.attrib:
            found.append(description.attrib[key])
        found += [child.text or "" for child in description.findall(key)]
    return found


def first(found: list[str]) -> str | None:
    return found[0] if found else None


def to_int(value: str | None) -> int | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return round(number) if math.isfinite(number) else None
