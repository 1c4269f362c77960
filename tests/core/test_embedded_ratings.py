"""Ratings that live inside photos, with exiftool as the independent writer and reader.

exiftool embeds ratings the way digiKam and Lightroom ("write metadata to file") do, and
writes sidecars; Critique reads each, never decoding pixels (``PIL`` loading is made to
fail); what Critique writes (always a sidecar) is what exiftool reads back. Hostile or
broken packets are one line each, for that photo, and nothing crashes.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from critique_app.core.library.ratings import (
    PhotoRating,
    read_photo_rating,
    read_ratings,
    set_flag,
    set_stars,
    summarize_folder,
)
from critique_app.core.library.xmp import (
    MAX_PACKET_BYTES,
    read_embedded_xmp,
    write_rating,
)
from critique_app.core.util.errors import CritiqueError
from tests.helpers.photos import PHOTOS
from tests.helpers.sidecars import exiftool, exiftool_or_skip, exiftool_tag
from train.data.formats import load_dataset

EMBED = ["-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red", "-XMP-digiKam:PickLabel=3"]


@pytest.fixture(autouse=True)
def no_pixels(monkeypatch):
    """Reading a rating must never decode a photo: any pixel load fails the test."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"pixels decoded: {getattr(self, 'filename', self)}")

    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def _photo(folder: Path, kind: str, source: str = "chelsea") -> Path:
    """A copy of a real test photo in the container ``kind`` (converted before the
    pixel guard applies: see _convert)."""
    folder.mkdir(parents=True, exist_ok=True)
    original = PHOTOS[source]
    target = folder / f"{source}.{kind}"
    if original.suffix == f".{kind}":
        return Path(shutil.copy(original, target))
    return Path(shutil.copy(_CONVERTED[kind], target))


_CONVERTED: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def converted(tmp_path_factory):
    """chelsea (a real photo) in each container, made once, before any pixel guard."""
    folder = tmp_path_factory.mktemp("converted")
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(PHOTOS["chelsea"]) as image:
        rgb = image.convert("RGB")
    for kind, params in {"jpg": {"quality": 90}, "tif": {}, "webp": {"quality": 80},
                         "heic": {"quality": 60}, "avif": {"quality": 60},
                         "png": {}}.items():
        try:
            rgb.save(folder / f"chelsea.{kind}", **params)
        except (KeyError, OSError, ValueError):  # no encoder for it in this Pillow
            continue
        _CONVERTED[kind] = folder / f"chelsea.{kind}"
    yield
    _CONVERTED.clear()


def _embedded(folder: Path, kind: str, *tags: str) -> Path:
    if kind not in _CONVERTED and kind not in ("dng", "nef"):
        pytest.skip(f"this Pillow cannot write .{kind}")
    base = "tif" if kind in ("dng", "nef") else kind
    photo = _photo(folder, base)
    if base != kind:
        photo = photo.rename(photo.with_suffix(f".{kind}"))
    if kind == "dng":  # a TIFF made a DNG the way exiftool does it
        exiftool("-DNGVersion=1.4.0.0", photo)
        assert exiftool_tag(photo, "FileType") == "DNG"
    exiftool(*(tags or EMBED), photo)
    return photo


# --- exiftool embeds, Critique reads ----------------------------------------------------


@pytest.mark.parametrize("kind", ["jpg", "tif", "png", "webp", "heic", "avif", "dng", "nef"])
def test_ratings_exiftool_embeds_are_read(tmp_path, kind):
    photo = _embedded(tmp_path, kind)
    assert exiftool_tag(photo, "XMP:Rating") == "4"  # what exiftool reads back
    before = photo.read_bytes()
    rating = read_photo_rating(photo)
    assert rating == PhotoRating(stars=4, picked=True, color="Red")
    assert rating.read_from == "embedded" and rating.read_from_file == photo.name
    assert "embedded in" in rating.read_from_text() and rating.label() == "★★★★, picked, red label"
    assert photo.read_bytes() == before  # read, never written


def test_an_embedded_reject_and_pick_label_reject(tmp_path):
    photo = _embedded(tmp_path / "a", "jpg", "-XMP-xmp:Rating=-1")
    assert read_photo_rating(photo) == PhotoRating(rejected=True)
    photo = _embedded(tmp_path / "b", "webp", "-XMP-digiKam:PickLabel=1", "-XMP-xmp:Rating=2")
    assert read_photo_rating(photo) == PhotoRating(stars=2, rejected=True)


def test_extended_xmp_written_by_exiftool(tmp_path):
    photo = _photo(tmp_path, "jpg")
    (tmp_path / "long.txt").write_text("a long caption " * 6000)  # 90 kB: does not fit
    exiftool("-XMP-dc:Description<=" + str(tmp_path / "long.txt"), "-XMP-xmp:Rating=2", photo)
    data = photo.read_bytes()
    assert data.count(b"http://ns.adobe.com/xmp/extension/\0") >= 2  # split into chunks
    assert exiftool_tag(photo, "XMP:HasExtendedXMP")
    embedded = read_embedded_xmp(photo)
    assert not embedded.note
    descriptions = "".join(embedded.root.itertext())
    assert descriptions.count("a long caption") == 6000  # the extended part was joined
    assert read_photo_rating(photo) == PhotoRating(stars=2)


def _app1(jpeg: bytes, *payloads: bytes) -> bytes:
    segments = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segments + jpeg[2:]


def _packet(body: str, about: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="{about}" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def test_a_rating_in_the_extended_part_is_read_as_exiftool_reads_it(tmp_path):
    """The rating may sit in the extended packet (the specification allows any property
    there); exiftool, reading the same bytes, agrees."""
    guid = hashlib.md5(b"extended").hexdigest().upper().encode()
    extended = _packet('<xmp:Rating>5</xmp:Rating><dc:source>' + "x" * 100_000
                       + "</dc:source>")
    chunks = [extended[i:i + 60_000] for i in range(0, len(extended), 60_000)]
    payloads = [b"http://ns.adobe.com/xap/1.0/\0"
                + _packet(f"<xmpNote:HasExtendedXMP>{guid.decode()}</xmpNote:HasExtendedXMP>")]
    for index, chunk in enumerate(chunks):
        payloads.append(b"http://ns.adobe.com/xmp/extension/\0" + guid
                        + struct.pack(">II", len(extended), index * 60_000) + chunk)
    # a chunk of another GUID is ignored, as the specification says
    payloads.append(b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 32
                    + struct.pack(">II", 10, 0) + b"<garbage/>")
    photo = tmp_path / "extended.jpg"
    photo.write_bytes(_app1(PHOTOS["rocket"].read_bytes(), *payloads))
    assert exiftool_tag(photo, "XMP:Rating") == "5"
    assert read_photo_rating(photo) == PhotoRating(stars=5)
    assert read_photo_rating(photo).read_from == "embedded"


# --- sidecars exiftool writes; which wins ------------------------------------------------


def test_sidecars_exiftool_writes_win_over_the_embedded_rating(tmp_path):
    photo = _embedded(tmp_path, "jpg")  # 4 stars, picked, red inside the photo
    sidecar = tmp_path / "chelsea.jpg.xmp"
    # the photo's XMP copied into darktable/digiKam's sidecar, then re-rated there
    exiftool("-tagsfromfile", photo, "-XMP:all", "-XMP-xmp:Rating=2", "-o", sidecar, photo)
    assert exiftool_tag(sidecar, "XMP:Rating") == "2"
    rating = read_photo_rating(photo)
    assert rating == PhotoRating(stars=2, picked=True, color="Red")
    assert rating.read_from == "sidecar" and rating.read_from_file == sidecar.name

    sidecar.unlink()  # a sidecar with only a rating: pick and colour still from the photo
    exiftool("-XMP-xmp:Rating=0", "-o", sidecar, PHOTOS["coffee"])
    assert exiftool_tag(sidecar, "XMP:Rating") == "0"
    assert read_photo_rating(photo) == PhotoRating(picked=True, color="Red")  # 0 stars wins


def test_a_lightroom_stem_sidecar_beside_a_raw(tmp_path):
    raw = _embedded(tmp_path, "nef", "-XMP-xmp:Rating=1")
    exiftool("-tagsfromfile", raw, "-XMP-xmp:Rating=3", "-o", tmp_path / "chelsea.xmp", raw)
    rating = read_photo_rating(raw)
    assert rating == PhotoRating(stars=3) and rating.read_from_file == "chelsea.xmp"


# --- Critique writes the sidecar; exiftool reads it back ---------------------------------


def test_critique_writes_only_sidecars_that_exiftool_reads_back(tmp_path):
    photo = _embedded(tmp_path, "jpg")  # 4 stars, picked, red
    before = photo.read_bytes()
    sidecar = tmp_path / "chelsea.jpg.xmp"

    update = set_stars(photo, 2)
    assert update.rating == PhotoRating(stars=2, picked=True, color="Red")
    assert update.rating.read_from == "critique"
    assert exiftool_tag(sidecar, "XMP:Rating") == "2"
    assert exiftool_tag(sidecar, "XMP:PickLabel") == "3"  # the photo's pick, now the sidecar's
    assert exiftool_tag(photo, "XMP:Rating") == "4" and photo.read_bytes() == before

    # Another tool changes the embedded rating later: the rating set in Critique wins.
    exiftool("-XMP-xmp:Rating=5", photo)
    rating = read_photo_rating(photo)
    assert rating.stars == 2 and rating.read_from == "critique"
    before = photo.read_bytes()

    set_stars(photo, 0)  # cleared in Critique: 0 in the sidecar hides the photo's 5
    assert read_photo_rating(photo) == PhotoRating(picked=True, color="Red")
    assert exiftool_tag(sidecar, "XMP:Rating") == "0"
    set_flag(photo, None)  # unpicked: PickLabel 0 hides the photo's 3
    assert read_photo_rating(photo) == PhotoRating(color="Red")
    assert exiftool_tag(sidecar, "XMP:PickLabel") == "0"
    set_flag(photo, "reject")
    assert exiftool_tag(sidecar, "XMP:Rating") == "-1"
    assert photo.read_bytes() == before  # the photo itself never changed


def test_clearing_an_embedded_rating_with_no_sidecar_yet(tmp_path):
    photo = _embedded(tmp_path, "png", "-XMP-xmp:Rating=-1")
    set_flag(photo, None)  # unreject
    assert read_photo_rating(photo) == PhotoRating()
    assert exiftool_tag(tmp_path / "chelsea.png.xmp", "XMP:Rating") == "0"


def test_the_scorer_keeps_an_embedded_rating(tmp_path):
    photo = _embedded(tmp_path, "tif", "-XMP-xmp:Rating=3")
    result = write_rating(photo, 5, basis="score-mean")
    assert result.kept_manual == [photo] and not result.written
    assert "chelsea.tif is kept" in result.skipped[0]
    assert read_photo_rating(photo) == PhotoRating(stars=3)
    assert write_rating(photo, 5, basis="score-mean", overwrite_manual=True).written
    assert read_photo_rating(photo) == PhotoRating(stars=5, automatic=True)

    unrated = _embedded(tmp_path / "b", "jpg", "-XMP-xmp:Rating=0")
    assert write_rating(unrated, 4, basis="score-mean").written  # nothing to keep


# --- training reads the same ratings by the same rule -------------------------------------


def test_training_reads_embedded_and_sidecar_ratings(tmp_path):
    folder = tmp_path / "shoot"
    _embedded(folder / "a", "jpg", "-XMP-xmp:Rating=5")
    _embedded(folder / "b", "webp", "-XMP-xmp:Rating=-1")
    _embedded(folder / "c", "heic", "-XMP-digiKam:PickLabel=3")
    overridden = _embedded(folder / "d", "tif", "-XMP-xmp:Rating=1")
    exiftool("-XMP-xmp:Rating=4", "-o", folder / "d" / "chelsea.tif.xmp", PHOTOS["coffee"])
    scored = _embedded(folder / "e", "png", "-XMP-xmp:Rating=0")
    write_rating(scored, 3, basis="score-percentile")  # Critique's scorer: not learnt
    dataset = load_dataset(folder, kind="score")
    notes = {row.image.relative_to(folder).as_posix(): row.rating for row in dataset.rows}
    assert notes == {"a/chelsea.jpg": "5 stars", "b/chelsea.webp": "reject",
                     "c/chelsea.heic": "pick", "d/chelsea.tif": "4 stars"}
    assert dataset.unrated == 1 and not dataset.errors
    assert read_photo_rating(overridden).read_from == "sidecar"
    summary = summarize_folder(folder)
    assert (summary.rated, summary.embedded, summary.automatic) == (5, 3, 1)


# --- hostile and broken packets: one line each, nothing crashes, no pixels ---------------


def _png_with(chunk_type: bytes, data: bytes) -> bytes:
    png = PHOTOS["chelsea"].read_bytes()
    ihdr_end = 8 + 25
    chunk = (struct.pack(">I", len(data)) + chunk_type + data
             + struct.pack(">I", zlib.crc32(chunk_type + data)))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _itxt(text: bytes, compressed: bool = False) -> bytes:
    body = zlib.compress(text) if compressed else text
    return b"XML:com.adobe.xmp\0" + bytes([compressed, 0]) + b"\0\0" + body


BOMB = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">'
                   % ((ord("b") + i,) + (ord("a") + i,) * 10) for i in range(8))
        + b"]><x:xmpmeta xmlns:x='adobe:ns:meta/'>&i;</x:xmpmeta>")
ENTITY = (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
          b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>&e;</x:xmpmeta>")


def _hostile(folder: Path) -> dict[str, tuple[Path, str]]:
    """Photos with broken or hostile packets, and a word each message must hold."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = PHOTOS["rocket"].read_bytes()
    good = _packet("<xmp:Rating>4</xmp:Rating>")
    cases = {
        "bomb.jpg": (_app1(jpeg, b"http://ns.adobe.com/xap/1.0/\0" + BOMB), "DTD"),
        "entity.png": (_png_with(b"iTXt", _itxt(ENTITY)), "DTD"),
        "truncated-xml.webp": (None, "not valid"),
        "truncated-file.jpg": (_app1(jpeg, b"http://ns.adobe.com/xap/1.0/\0" + good)[:200],
                               "truncated"),
        "huge.png": (_png_with(b"iTXt", _itxt(good + b" " * (MAX_PACKET_BYTES + 10))),
                     "more than"),
        "zip-bomb.png": (_png_with(b"iTXt", _itxt(good + b" " * 50_000_000, compressed=True)),
                         "uncompressed"),
    }
    made = {}
    for name, (data, word) in cases.items():
        path = folder / name
        if data is None:  # a WebP whose XMP chunk ends mid-packet
            path = _embedded(folder / "webp", "webp", "-XMP-xmp:Rating=3")
            riff = bytearray(path.read_bytes())
            at = riff.index(b"XMP ")
            (length,) = struct.unpack("<I", riff[at + 4:at + 8])
            cut = riff.index(b"</rdf:Description>", at)  # the end of the packet, not its padding
            riff[cut:at + 8 + length] = b" " * (at + 8 + length - cut)
            path = path.rename(folder / name)
            path.write_bytes(bytes(riff))
        else:
            path.write_bytes(data)
        made[name] = (path, word)
    return made


def test_hostile_packets_are_one_line_each(tmp_path):
    exiftool_or_skip()
    cases = _hostile(tmp_path / "bad")
    results = dict(read_ratings([path for path, _ in cases.values()]))
    for name, (path, word) in cases.items():
        error = results[path]
        assert isinstance(error, CritiqueError), name
        message = str(error)
        assert "\n" not in message and name in message and word in message, message
        assert len(message) < 300, message


def test_a_hostile_packet_is_skipped_in_training_and_the_folder_summary(tmp_path):
    exiftool_or_skip()
    folder = tmp_path / "shoot"
    cases = _hostile(folder)
    _embedded(folder / "ok", "jpg", "-XMP-xmp:Rating=5")
    dataset = load_dataset(folder, kind="score")
    assert [row.rating for row in dataset.rows] == ["5 stars"]
    assert len(dataset.errors) == len(cases)
    summary = summarize_folder(folder)
    assert summary.rated == 1 and len(summary.problems) == len(cases)


def test_a_hostile_packet_does_not_stop_rating_the_photo(tmp_path):
    exiftool_or_skip()
    photo, _ = _hostile(tmp_path)["bomb.jpg"]
    with pytest.raises(CritiqueError, match="DTD"):
        read_photo_rating(photo)
    update = set_stars(photo, 3)  # the photographer can still rate it: the sidecar wins
    assert update.written == [tmp_path / "bomb.jpg.xmp"]
    rating = read_photo_rating(photo)  # a rating set in Critique: the packet is not needed
    assert rating == PhotoRating(stars=3) and "DTD" in rating.note
    with pytest.raises(CritiqueError, match="DTD"):  # nor does the scorer overwrite it
        write_rating(_hostile(tmp_path / "again")["bomb.jpg"][0], 3, basis="score-mean")


def test_a_wrong_extension_is_read_by_content_and_noted(tmp_path):
    photo = _embedded(tmp_path, "png", "-XMP-xmp:Rating=3")
    renamed = photo.rename(tmp_path / "chelsea.jpg")
    rating = read_photo_rating(renamed)
    assert rating == PhotoRating(stars=3)
    assert rating.note == "chelsea.jpg is a PNG file despite its .jpg extension"


def test_files_without_a_readable_container_are_unrated_not_errors(tmp_path):
    fake = tmp_path / "IMG_1.CR2"
    fake.write_bytes(b"II*\x00 not really a raw file")
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"just some text")
    empty = tmp_path / "empty.heic"
    empty.write_bytes(b"")
    for path in (fake, text, empty):
        assert read_photo_rating(path) == PhotoRating()
    assert "TIFF directory" in read_photo_rating(fake).note
    raf = tmp_path / "DSCF1.RAF"
    raf.write_bytes(b"FUJIFILMCCD-RAW 0201" + b"\0" * 100)
    assert read_embedded_xmp(raf).container == ""  # not read: its sidecar still is


def test_a_missing_exiftool_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="libimage-exiftool-perl"):
        exiftool_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        exiftool_or_skip()
