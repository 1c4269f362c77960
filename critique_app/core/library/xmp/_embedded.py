"""The XMP packet inside a photo, found by reading the file's container, never its pixels.

Where photo tools embed XMP, and where it is read here (the container is recognised by
its first bytes, not by the file's extension):

* JPEG: the APP1 segment ``http://ns.adobe.com/xap/1.0/``, and *extended XMP* (APP1
  ``http://ns.adobe.com/xmp/extension/`` chunks, joined by the GUID that the main
  packet names in ``xmpNote:HasExtendedXMP``; chunks with another GUID are ignored, as
  the XMP specification says). Segments are walked up to the start of the scan (SOS);
  the compressed picture is never read.
* TIFF (tag 700 of the first IFD), which also covers DNG and the TIFF-based camera RAW
  formats: NEF/NRW, CR2, ARW/SRF/SR2, PEF, SRW, ORF (its "IIRO" header), RW2/RWL (its
  0x55 header), 3FR, FFF, IIQ, ERF, KDC, DCR, MEF, MOS, K25.
* PNG: the ``iTXt`` chunk ``XML:com.adobe.xmp`` (plain or zlib-compressed; image data
  chunks are skipped over, not read).
* WebP: the RIFF ``XMP `` chunk.
* HEIC/HEIF/AVIF (ISOBMFF): the ``mime`` item of type ``application/rdf+xml`` found
  through the ``meta`` box's ``iinf`` and ``iloc`` (file offsets or ``idat``); and a
  top-level XMP ``uuid`` box, where Canon's CR3 keeps it.

Not read (their sidecars still are): GIF, BMP, and the RAW formats with their own
containers: Fuji RAF, Canon CRW, Sigma X3F, Minolta MRW, ARRI ARI, BigTIFF.

Every read is bounded: segment and chunk headers, then at most :data:`MAX_PACKET_BYTES`
of XMP. Packets are parsed with defusedxml like the sidecars (no DTD, no entities); a
packet that is too large, truncated or not valid XMP raises :class:`CritiqueError`
naming the photo, so the caller reports it and goes on.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import defusedxml
import defusedxml.ElementTree as SafeET

from critique_app.core.library.xmp._properties import RDF_NS
from critique_app.core.library.xmp._reading import Sidecar, first, values
from critique_app.core.util.errors import CritiqueError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_PACKET_BYTES = 4 * 1024 * 1024  # standard + extended; a rating packet is a few kB
XMP_NOTE_NS = "http://ns.adobe.com/xmp/note/"
HAS_EXTENDED_XMP = (XMP_NOTE_NS, "HasExtendedXMP")

_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\0"
_JPEG_EXTENDED = b"http://ns.adobe.com/xmp/extension/\0"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEYWORD = b"XML:com.adobe.xmp"
_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
_TIFF_MAGICS = {42, 0x55, 0x4F52, 0x5352}  # TIFF, Panasonic RW2, Olympus ORF ("RO", "RS")
_MAX_SEGMENTS = 4096  # JPEG segments / PNG and RIFF chunks / boxes walked
_MAX_BOX_BYTES = 4 * 1024 * 1024  # an ISOBMFF meta box read whole
_EXTENSIONS = {  # what the file's extension says it is, to notice a wrong one
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "WebP": {".webp"},
    "HEIF": {".heic", ".heif", ".hif", ".avif", ".cr3"},
}


@dataclass(frozen=True)
class EmbeddedXmp:
    """What a photo's container holds: its format, its XMP parsed (None if it has none) and
    a note that does not stop the rating from being read (a wrong extension, ...)."""

    path: Path
    container: str  # "JPEG", "TIFF", "PNG", "WebP", "HEIF", or "" when not recognised
    root: Element | None
    note: str = ""

    def as_sidecar(self) -> Sidecar:
        """The packet in the shape the sidecar readers take (``path`` is the photo's)."""
        return Sidecar(self.path, self.root)


class _Bad(Exception):
    """The container is broken or hostile; the message says how, for one line.
    ``packet``: the XMP itself is at fault (too large, truncated), not the file around it."""

    def __init__(self, message: str, *, packet: bool = False) -> None:
        super().__init__(message)
        self.packet = packet


def read_embedded_xmp(photo: Path) -> EmbeddedXmp:
    """The XMP embedded in ``photo`` (``root`` None when it has none or its format is not
    one listed above). Only container bytes are read; the pixels are never decoded.

    Raises :class:`CritiqueError` (one line, naming the photo) when the file cannot be
    read, or its packet is truncated, too large or not valid XMP.
    """
    photo = Path(photo)
    try:
        with open(photo, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            container, packet, extended = _find(file, size)
    except _Bad as error:
        if error.packet:
            raise CritiqueError(f"embedded XMP not read: {error}", path=photo) from None
        # A broken file, not a broken packet: the photo's own reading reports it.
        return EmbeddedXmp(photo, "", None, f"embedded XMP not read: {error}")
    except FileNotFoundError:
        raise CritiqueError("photo not found", path=photo) from None
    except OSError as error:
        raise CritiqueError(f"cannot read the photo ({error.strerror})", path=photo) from None
    note = _extension_note(photo, container)
    if packet is None:
        return EmbeddedXmp(photo, container, None, note)
    root = _parse(packet, photo)
    if extended:
        root, extended_note = _join_extended(root, extended, photo)
        note = "; ".join(part for part in (note, extended_note) if part)
    return EmbeddedXmp(photo, container, root, note)


# --- the containers -----------------------------------------------------------------------

Extended = dict[bytes, list[tuple[int, int, bytes]]]  # GUID -> (full length, offset, data)


def _find(file: BinaryIO, size: int) -> tuple[str, bytes | None, Extended]:
    head = file.read(16)
    if head.startswith(b"\xff\xd8"):
        return ("JPEG", *_jpeg(file, size))
    if head[:2] in (b"II", b"MM") and len(head) >= 8:
        return "TIFF", _tiff(file, head, size), {}
    if head.startswith(_PNG_SIGNATURE):
        return "PNG", _png(file, size), {}
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP", _webp(file, size), {}
    if head[4:8] == b"ftyp":
        return "HEIF", _isobmff(file, size), {}
    return "", None, {}


def _read(file: BinaryIO, offset: int, length: int, size: int, what: str,
          *, packet: bool = True) -> bytes:
    """``length`` bytes at ``offset``; ``what`` names them for the message."""
    if length > MAX_PACKET_BYTES:
        raise _Bad(f"its {what} is {_mb(length)}, more than the {_mb(MAX_PACKET_BYTES)} "
                   "Critique reads", packet=packet)
    if offset < 0 or offset + length > size:
        raise _Bad(f"the file is truncated (its {what} runs past the end)", packet=packet)
    file.seek(offset)
    data = file.read(length)
    if len(data) != length:
        raise _Bad(f"the file is truncated (its {what} runs past the end)", packet=packet)
    return data


def _jpeg(file: BinaryIO, size: int) -> tuple[bytes | None, Extended]:
    packet: bytes | None = None
    extended: Extended = {}
    extended_bytes = 0
    position = 2
    for _ in range(_MAX_SEGMENTS):
        file.seek(position)
        head = file.read(2)
        if len(head) < 2:
            break  # the file ends before its picture: nothing more to find
        if head[0] != 0xFF:
            raise _Bad("its JPEG segments are broken")
        marker = head[1]
        while marker == 0xFF:  # fill bytes
            byte = file.read(1)
            position += 1
            if not byte:
                return packet, extended
            marker = byte[0]
        position += 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # no length
        if marker in (0xD9, 0xDA):
            break  # end of image, or start of the compressed picture
        length_bytes = file.read(2)
        if len(length_bytes) < 2:
            raise _Bad("the file is truncated (in a JPEG segment header)")
        length = int.from_bytes(length_bytes, "big")
        if length < 2:
            raise _Bad("its JPEG segments are broken")
        if marker == 0xE1:
            signature = file.read(len(_JPEG_EXTENDED))
            if signature.startswith(_JPEG_XMP) and packet is None:
                start = position + 2 + len(_JPEG_XMP)
                packet = _read(file, start, length - 2 - len(_JPEG_XMP), size, "XMP packet")
            elif signature == _JPEG_EXTENDED and length - 2 > len(_JPEG_EXTENDED) + 40:
                data = _read(file, position + 2 + len(_JPEG_EXTENDED),
                             length - 2 - len(_JPEG_EXTENDED), size, "extended XMP")
                extended_bytes += len(data) - 40
                if extended_bytes <= MAX_PACKET_BYTES:
                    guid = data[:32]
                    full, offset = struct.unpack(">II", data[32:40])
                    extended.setdefault(guid, []).append((full, offset, data[40:]))
                else:
                    extended[b"too large"] = []
        position += length
        if position > size:
            raise _Bad("the file is truncated (a JPEG segment runs past the end)")
    return packet, extended


def _tiff(file: BinaryIO, head: bytes, size: int) -> bytes | None:
    order = "<" if head[:2] == b"II" else ">"
    magic, ifd = struct.unpack(order + "HI", head[2:8])
    if magic == 43:
        raise _Bad("BigTIFF files are not read for embedded XMP")
    if magic not in _TIFF_MAGICS:
        return None
    if ifd < 8 or ifd + 2 > size:
        raise _Bad("the file is truncated (its first TIFF directory is missing)")
    file.seek(ifd)
    (count,) = struct.unpack(order + "H", file.read(2))
    if count > _MAX_SEGMENTS:
        raise _Bad(f"its TIFF directory claims {count} entries")
    entries = _read(file, ifd + 2, 12 * count, size, "TIFF directory", packet=False)
    for start in range(0, len(entries), 12):
        tag, kind, length = struct.unpack(order + "HHI", entries[start:start + 8])
        if tag != 700:
            continue
        if kind not in (1, 2, 7):  # BYTE, ASCII, UNDEFINED
            raise _Bad(f"its XMP tag has type {kind}, not bytes", packet=True)
        if length <= 4:
            return entries[start + 8:start + 8 + length]
        (offset,) = struct.unpack(order + "I", entries[start + 8:start + 12])
        return _read(file, offset, length, size, "XMP packet")
    return None


def _png(file: BinaryIO, size: int) -> bytes | None:
    position = len(_PNG_SIGNATURE)
    for _ in range(_MAX_SEGMENTS * 16):
        file.seek(position)
        head = file.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            return None
        if kind == b"iTXt" and file.read(len(_PNG_KEYWORD) + 1) == _PNG_KEYWORD + b"\0":
            start = position + 8 + len(_PNG_KEYWORD) + 1
            return _itxt(_read(file, start, length - len(_PNG_KEYWORD) - 1, size, "XMP chunk"))
        position += 12 + length
        if position > size:
            raise _Bad("the file is truncated (a PNG chunk runs past the end)")
    return None


def _itxt(data: bytes) -> bytes:
    """The text of an iTXt chunk after its keyword: flags, language, translated keyword."""
    if len(data) < 2:
        raise _Bad("its XMP chunk is truncated", packet=True)
    compressed, method = data[0], data[1]
    parts = data[2:].split(b"\0", 2)
    if len(parts) < 3:
        raise _Bad("its XMP chunk is truncated", packet=True)
    text = parts[2]
    if not compressed:
        return text
    if method != 0:
        raise _Bad(f"its XMP chunk uses compression method {method}", packet=True)
    inflate = zlib.decompressobj()
    try:
        out = inflate.decompress(text, MAX_PACKET_BYTES + 1)
    except zlib.error:
        raise _Bad("its compressed XMP chunk is damaged", packet=True) from None
    if len(out) > MAX_PACKET_BYTES:
        raise _Bad(f"its XMP packet is over {_mb(MAX_PACKET_BYTES)} uncompressed", packet=True)
    if not inflate.eof:
        raise _Bad("its compressed XMP chunk is truncated", packet=True)
    return out


def _webp(file: BinaryIO, size: int) -> bytes | None:
    position = 12
    for _ in range(_MAX_SEGMENTS):
        file.seek(position)
        head = file.read(8)
        if len(head) < 8:
            return None
        kind, length = struct.unpack("<4sI", head)
        if kind == b"XMP ":
            return _read(file, position + 8, length, size, "XMP chunk")
        position += 8 + length + (length & 1)
        if position > size:
            raise _Bad("the file is truncated (a WebP chunk runs past the end)")
    return None


def _isobmff(file: BinaryIO, size: int) -> bytes | None:
    position = 0
    for _ in range(_MAX_SEGMENTS):
        box = _box_header(file, position, size)
        if box is None:
            return None
        kind, start, end = box
        if kind == b"meta":
            found = _heif_meta(_read_box(file, start, end, size), file, size)
            if found is not None:
                return found
        elif kind == b"uuid" and end - start >= 16:
            file.seek(start)
            if file.read(16) == _XMP_UUID:
                return _read(file, start + 16, end - start - 16, size, "XMP box")
        position = end
    return None


def _box_header(file: BinaryIO, position: int, size: int) -> tuple[bytes, int, int] | None:
    """(type, where the payload starts, where the box ends) of the box at ``position``."""
    if position + 8 > size:
        return None
    file.seek(position)
    length, kind = struct.unpack(">I4s", file.read(8))
    start = position + 8
    if length == 1:
        (length,) = struct.unpack(">Q", file.read(8))
        start += 8
    elif length == 0:
        length = size - position
    end = position + length
    if end < start or end > size:
        raise _Bad(f"the file is truncated (its '{kind.decode('latin-1')}' box runs past the end)")
    return kind, start, end


def _read_box(file: BinaryIO, start: int, end: int, size: int) -> bytes:
    if end - start > _MAX_BOX_BYTES:
        raise _Bad(f"its metadata box is {_mb(end - start)}", packet=True)
    return _read(file, start, end - start, size, "metadata box", packet=False)


def _children(data: bytes, start: int = 0) -> dict[bytes, bytes]:
    """The child boxes of a box's payload, by type (the first of each)."""
    found: dict[bytes, bytes] = {}
    position = start
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", data[position + 8:position + 16])
            header = 16
        elif length == 0:
            length = len(data) - position
        if length < header or position + length > len(data):
            raise _Bad(f"its '{kind.decode('latin-1')}' box is broken")
        found.setdefault(kind, data[position + header:position + length])
        position += length
    return found


def _heif_meta(meta: bytes, file: BinaryIO, size: int) -> bytes | None:
    """The XMP item of a HEIF ``meta`` box (a full box: 4 bytes of version and flags)."""
    children = _children(meta, 4)
    item = _xmp_item(children.get(b"iinf"))
    if item is None:
        return None
    extents, method = _item_extents(children.get(b"iloc"), item)
    if method == 1:
        idat = children.get(b"idat", b"")
        if any(offset + length > len(idat) for offset, length in extents):
            raise _Bad("its XMP item runs past its 'idat' box", packet=True)
        return b"".join(idat[offset:offset + length] for offset, length in extents)
    if method != 0:
        raise _Bad(f"its XMP item uses construction method {method}", packet=True)
    total = sum(length for _, length in extents)
    if total > MAX_PACKET_BYTES:
        raise _Bad(f"its XMP item is {_mb(total)}, more than the {_mb(MAX_PACKET_BYTES)} "
                   "Critique reads", packet=True)
    return b"".join(_read(file, offset, length, size, "XMP item") for offset, length in extents)


def _xmp_item(iinf: bytes | None) -> int | None:
    if not iinf or len(iinf) < 6:
        return None
    version = iinf[0]
    position = 6 if version == 0 else 8
    for kind, body in _boxes(iinf, position):
        if kind != b"infe" or len(body) < 4 or body[0] < 2:
            continue
        id_size = 2 if body[0] == 2 else 4
        at = 4 + id_size
        if len(body) < at + 6:
            continue
        item = int.from_bytes(body[4:at], "big")
        item_type = body[at + 2:at + 6]
        if item_type != b"mime":
            continue
        strings = body[at + 6:].split(b"\0")
        content_type = strings[1] if len(strings) > 1 else b""
        if content_type.strip() == b"application/rdf+xml":
            encoding = strings[2] if len(strings) > 2 else b""
            if encoding.strip():
                raise _Bad(f"its XMP item is encoded ({encoding.decode('latin-1')!r})", packet=True)
            return item
    return None


def _boxes(data: bytes, position: int):
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if length < 8 or position + length > len(data):
            raise _Bad(f"its '{kind.decode('latin-1')}' box is broken")
        yield kind, data[position + 8:position + length]
        position += length


def _item_extents(iloc: bytes | None, wanted: int) -> tuple[list[tuple[int, int]], int]:
    """The (offset, length) extents of item ``wanted`` and its construction method."""
    if not iloc or len(iloc) < 8:
        raise _Bad("its XMP item has no location")
    version = iloc[0]
    offset_size, length_size = iloc[4] >> 4, iloc[4] & 15
    base_size, index_size = iloc[5] >> 4, (iloc[5] & 15 if version in (1, 2) else 0)
    reader = _Fields(iloc, 6)
    count = reader.take(2 if version < 2 else 4)
    for _ in range(count):
        item = reader.take(2 if version < 2 else 4)
        method = reader.take(2) & 15 if version in (1, 2) else 0
        reader.take(2)  # data reference index
        base = reader.take(base_size)
        extents = []
        for _ in range(reader.take(2)):
            reader.take(index_size)
            offset, length = reader.take(offset_size), reader.take(length_size)
            if length == 0:
                raise _Bad("its XMP item has no length")
            extents.append((base + offset, length))
        if item == wanted:
            return extents, method
    raise _Bad("its XMP item has no location")


class _Fields:
    """Big-endian unsigned fields of 0, 1, 2, 4 or 8 bytes, read in turn."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data, self.position = data, position

    def take(self, width: int) -> int:
        if width not in (0, 1, 2, 4, 8) or self.position + width > len(self.data):
            raise _Bad("its 'iloc' box is broken")
        value = int.from_bytes(self.data[self.position:self.position + width], "big")
        self.position += width
        return value


# --- the packet ---------------------------------------------------------------------------


def _parse(packet: bytes, photo: Path) -> Element:
    packet = packet.rstrip(b"\0 \t\r\n")
    try:
        # XMP has no DTDs; refusing them also refuses entity tricks (as for sidecars).
        return SafeET.fromstring(packet, forbid_dtd=True)
    except SafeET.ParseError as error:
        raise CritiqueError(f"embedded XMP is not valid ({error}); not read",
                            path=photo) from None
    except defusedxml.DefusedXmlException:
        raise CritiqueError("embedded XMP is not valid (has a DTD); not read",
                            path=photo) from None


def _join_extended(root: Element, extended: Extended, photo: Path) -> tuple[Element, str]:
    """The main packet with the extended one's properties added, and a note if the
    extended part could not be used (the main packet is read all the same)."""
    if b"too large" in extended:
        return root, f"extended XMP over {_mb(MAX_PACKET_BYTES)}, not read"
    guid = first(values(root, HAS_EXTENDED_XMP))
    chunks = extended.get(guid.encode("ascii", "replace")) if guid else None
    if not chunks:
        return root, ""
    full = chunks[0][0]
    data = bytearray(full)
    covered = 0
    for length, offset, part in chunks:
        if length != full or offset + len(part) > full:
            return root, "extended XMP chunks disagree; not read"
        data[offset:offset + len(part)] = part
        covered += len(part)
    if covered < full:
        return root, "extended XMP is incomplete; not read"
    try:
        more = _parse(bytes(data), photo)
    except CritiqueError as error:
        return root, error.args[0]
    rdf = next(root.iter(f"{{{RDF_NS}}}RDF"), None)
    extra = next(more.iter(f"{{{RDF_NS}}}RDF"), None)
    if rdf is not None and extra is not None:
        rdf.extend(extra.findall(f"{{{RDF_NS}}}Description"))
    return root, ""


def _extension_note(photo: Path, container: str) -> str:
    suffix = photo.suffix.lower()
    claimed = next((name for name, suffixes in _EXTENSIONS.items() if suffix in suffixes), None)
    if container and claimed and claimed != container:
        return f"{photo.name} is a {container} file despite its {photo.suffix} extension"
    return ""


def _mb(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} kB"


