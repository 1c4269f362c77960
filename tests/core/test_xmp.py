"""Star ratings in XMP sidecars: naming policy, byte-preserving edits, safety."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from PIL import Image

from critique_app.core.library.xmp import (
    CRITIQUE_NS,
    XMP_NS,
    read_rating,
    sidecar_paths,
    stars_from_mean,
    stars_from_percentile,
    write_rating,
)
from critique_app.core.util.errors import CritiqueError
from tests.helpers.sidecars import DARKTABLE, LIGHTROOM, written_by_critique

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
OUR_MARKER = (
    '\n   xmlns:critique="https://github.com/critique-photo/critique/ns/1.0/"'
    '\n   critique:RatingSource="score-percentile"'
    '\n   critique:WrittenRating="{stars}"'
)

def _raw(folder: Path, name: str = "IMG_1.CR2") -> Path:
    photo = folder / name
    photo.write_bytes(b"II*\x00 not really a raw file, never opened")
    return photo


def _jpeg(folder: Path, name: str = "IMG_1.JPG") -> Path:
    photo = folder / name
    Image.new("RGB", (8, 8), (200, 120, 40)).save(photo, "JPEG")
    return photo


def _ratings(path: Path) -> list[str]:
    """Every xmp:Rating on the top-level descriptions, parsed independently with defusedxml."""
    root = SafeET.fromstring(path.read_bytes())
    found = []
    for description in root.iter(f"{{{RDF_NS}}}Description"):
        if f"{{{XMP_NS}}}Rating" in description.attrib:
            found.append(description.attrib[f"{{{XMP_NS}}}Rating"])
        found += [e.text or "" for e in description.findall(f"{{{XMP_NS}}}Rating")]
    return found


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- new sidecars and naming ----------------------------------------------------------


def test_raw_alone_gets_both_sidecars(tmp_path):
    photo = _raw(tmp_path)
    result = write_rating(photo, 4, basis="score-percentile")
    both = [tmp_path / "IMG_1.CR2.xmp", tmp_path / "IMG_1.xmp"]
    assert result.written == both
    assert sidecar_paths(photo) == both
    assert result.kept_manual == [] and result.skipped == []
    for sidecar in both:
        assert read_rating(sidecar) == 4
        root = SafeET.fromstring(sidecar.read_bytes())
        assert root.tag == "{adobe:ns:meta/}xmpmeta"
        (description,) = root.iter(f"{{{RDF_NS}}}Description")
        assert description.attrib[f"{{{RDF_NS}}}about"] == ""
        assert description.attrib[f"{{{XMP_NS}}}Rating"] == "4"
        assert description.attrib[f"{{{CRITIQUE_NS}}}RatingSource"] == "score-percentile"
        sidecar.read_bytes().decode("utf-8")


def test_jpeg_gets_only_the_full_name_sidecar(tmp_path):
    photo = _jpeg(tmp_path, "DSC_7.jpg")
    result = write_rating(photo, 2, basis="score-mean")
    assert result.written == [tmp_path / "DSC_7.jpg.xmp"]
    assert not (tmp_path / "DSC_7.xmp").exists()
    assert read_rating(tmp_path / "DSC_7.jpg.xmp") == 2


def test_raw_jpeg_pair_skips_the_shared_stem_sidecar(tmp_path):
    raw, jpeg = _raw(tmp_path), _jpeg(tmp_path, "img_1.jpg")  # case differs: still a pair
    result = write_rating(raw, 5, basis="score-percentile")
    assert result.written == [tmp_path / "IMG_1.CR2.xmp"]
    assert len(result.skipped) == 1
    assert "IMG_1.xmp" in result.skipped[0] and "img_1.jpg" in result.skipped[0]
    assert not (tmp_path / "IMG_1.xmp").exists()
    assert write_rating(jpeg, 3, basis="score-percentile").written == [tmp_path / "img_1.jpg.xmp"]


def test_existing_stem_sidecar_is_updated_but_not_when_shared(tmp_path):
    jpeg = _jpeg(tmp_path)
    (tmp_path / "IMG_1.XMP").write_bytes(written_by_critique(2, "score-mean"))
    result = write_rating(jpeg, 4, basis="score-mean")
    assert result.written == [tmp_path / "IMG_1.JPG.xmp", tmp_path / "IMG_1.XMP"]
    assert read_rating(tmp_path / "IMG_1.XMP") == 4

    _raw(tmp_path)  # now IMG_1.XMP could be the RAW's
    result = write_rating(jpeg, 1, basis="score-mean")
    assert result.written == [tmp_path / "IMG_1.JPG.xmp"]
    assert "IMG_1.XMP" in result.skipped[0]
    assert read_rating(tmp_path / "IMG_1.XMP") == 4


def test_existing_darktable_name_is_found(tmp_path):
    photo = _raw(tmp_path, "P1000123.RW2")
    (tmp_path / "P1000123.RW2.XMP").write_bytes(written_by_critique(3, "score-mean"))
    assert sidecar_paths(photo) == [tmp_path / "P1000123.RW2.XMP", tmp_path / "P1000123.xmp"]


def test_photo_is_never_touched(tmp_path):
    photo = _raw(tmp_path)
    os.utime(photo, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before, content = photo.stat(), photo.read_bytes()
    write_rating(photo, 4, basis="score-mean")
    write_rating(photo, 2, basis="score-mean")
    after = photo.stat()
    assert photo.read_bytes() == content
    assert after.st_mtime_ns == before.st_mtime_ns == 1_600_000_000_000_000_000
    assert after.st_size == before.st_size


# --- editing existing sidecars -------------------------------------------------------


def test_lightroom_sidecar_keeps_every_other_byte(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.xmp"
    sidecar.write_text(LIGHTROOM, encoding="utf-8")
    result = write_rating(photo, 5, basis="score-percentile", overwrite_manual=True)
    assert sidecar in result.written
    expected = LIGHTROOM.replace('xmp:Rating="3"', 'xmp:Rating="5"').replace(
        'crs:AlreadyApplied="False"',
        'crs:AlreadyApplied="False"' + OUR_MARKER.format(stars=5),
    )
    assert sidecar.read_text(encoding="utf-8") == expected
    assert _ratings(sidecar) == ["5"]
    root = SafeET.fromstring(sidecar.read_bytes())
    subjects = [li.text for li in root.iter(f"{{{RDF_NS}}}li") if li.text]
    assert subjects[:2] == ["coast", "sunset"]


def test_darktable_sidecar_keeps_history(tmp_path):
    photo = _raw(tmp_path, "IMG_0042.CR2")
    sidecar = tmp_path / "IMG_0042.CR2.xmp"
    sidecar.write_bytes(DARKTABLE.encode())
    write_rating(photo, 4, basis="score-percentile", overwrite_manual=True)
    text = sidecar.read_text(encoding="utf-8")
    assert text == DARKTABLE.replace('xmp:Rating="1"', 'xmp:Rating="4"').replace(
        'history_current_hash="2f3d1a0e9c8b7a6f5e4d3c2b1a0f9e8d"',
        'history_current_hash="2f3d1a0e9c8b7a6f5e4d3c2b1a0f9e8d"' + OUR_MARKER.format(stars=4),
    )
    assert _ratings(sidecar) == ["4"]
    root = SafeET.fromstring(sidecar.read_bytes())
    operations = [
        li.get("{http://darktable.sf.net/}operation") for li in root.iter(f"{{{RDF_NS}}}li")
    ]
    assert operations == ["rawprepare", "exposure"]


def test_element_form_rating(tmp_path):
    photo = _raw(tmp_path)
    original = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\r\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\r\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\r\n'
        "   <xmp:Rating>2</xmp:Rating>\r\n"
        "   <xmp:Label>Red</xmp:Label>\r\n"
        "  </rdf:Description>\r\n"
        " </rdf:RDF>\r\n"
        "</x:xmpmeta>\r\n"
    )
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_bytes(original.encode())
    write_rating(photo, 3, basis="score-percentile", overwrite_manual=True)
    text = sidecar.read_bytes().decode()
    assert "<xmp:Rating>3</xmp:Rating>\r\n   <xmp:Label>Red</xmp:Label>" in text
    assert _ratings(sidecar) == ["3"]
    marker_removed = text.replace(
        ' xmlns:critique="https://github.com/critique-photo/critique/ns/1.0/"'
        ' critique:RatingSource="score-percentile" critique:WrittenRating="3"',
        "",
    )
    assert marker_removed == original.replace(">2<", ">3<")


def test_other_prefix_for_the_xmp_namespace(tmp_path):
    photo = _raw(tmp_path)
    original = (
        "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'>\n"
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\n"
        "<rdf:Description rdf:about='' xmlns:xap='http://ns.adobe.com/xap/1.0/' xap:Rating='2'/>\n"
        "</rdf:RDF>\n"
        "</x:xmpmeta>\n"
        "<?xpacket end='w'?>"
    )
    sidecar = tmp_path / "IMG_1.xmp"
    sidecar.write_text(original, encoding="utf-8")
    write_rating(photo, 5, basis="score-mean", overwrite_manual=True)
    text = sidecar.read_text(encoding="utf-8")
    assert "xap:Rating='5'" in text
    assert 'xmlns:xmp="' not in text  # the existing binding is reused
    assert _ratings(sidecar) == ["5"] and read_rating(sidecar) == 5


def test_missing_rating_is_inserted_with_its_namespace(tmp_path):
    photo = _raw(tmp_path)
    original = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "   <dc:subject><rdf:Bag><rdf:li>cat</rdf:li></rdf:Bag></dc:subject>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_text(original, encoding="utf-8")
    result = write_rating(photo, 3, basis="score-percentile")
    assert sidecar in result.written and result.kept_manual == []
    text = sidecar.read_text(encoding="utf-8")
    assert text == original.replace(
        'xmlns:dc="http://purl.org/dc/elements/1.1/"',
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:critique="https://github.com/critique-photo/critique/ns/1.0/" xmp:Rating="3"'
        ' critique:RatingSource="score-percentile" critique:WrittenRating="3"',
    )
    assert _ratings(sidecar) == ["3"]


def test_xmp_prefix_taken_by_another_namespace(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="'
        + RDF_NS
        + '"><rdf:Description rdf:about="" xmlns:xmp="urn:not-xmp" xmp:Rating="9"/>'
        "</rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    write_rating(photo, 2, basis="score-mean")
    root = SafeET.fromstring(sidecar.read_bytes())
    (description,) = root.iter(f"{{{RDF_NS}}}Description")
    assert description.get("{urn:not-xmp}Rating") == "9"
    assert description.get(f"{{{XMP_NS}}}Rating") == "2"


def test_rating_in_a_later_description_and_nested_ones_untouched(tmp_path):
    """exiftool writes one description per schema; Photoshop nests others in a Pantry."""
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    original = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="{RDF_NS}">
 <!-- <rdf:Description xmp:Rating="4"/> in a comment -->
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:format>image/x-canon-cr2</dc:format>
 </rdf:Description>
 <rdf:Description rdf:about="" xmlns:xmp="{XMP_NS}" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">
  <xmp:Rating>0</xmp:Rating>
  <xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description xmp:Rating="2"/></rdf:li></rdf:Bag></xmpMM:Pantry>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
"""
    sidecar.write_text(original, encoding="utf-8")
    result = write_rating(photo, 4, basis="score-mean")  # 0 = unrated, not manual
    assert sidecar in result.written
    text = sidecar.read_text(encoding="utf-8")
    assert "<xmp:Rating>4</xmp:Rating>" in text
    assert '<rdf:Description xmp:Rating="2"/>' in text
    assert '<!-- <rdf:Description xmp:Rating="4"/> in a comment -->' in text
    assert text.count("critique:RatingSource") == 1
    assert 'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:critique=' in text


# --- the photographer's ratings and ours ---------------------------------------------


def test_manual_rating_is_kept_unless_overwrite(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.xmp"
    sidecar.write_text(LIGHTROOM, encoding="utf-8")
    result = write_rating(photo, 5, basis="score-percentile")
    assert result.kept_manual == [sidecar]
    assert result.written == []
    assert "IMG_1.CR2.xmp" in result.skipped[0]  # not given a rating that disagrees
    assert not (tmp_path / "IMG_1.CR2.xmp").exists()
    assert sidecar.read_text(encoding="utf-8") == LIGHTROOM

    result = write_rating(photo, 5, basis="score-percentile", overwrite_manual=True)
    assert result.written == [tmp_path / "IMG_1.CR2.xmp", sidecar]
    assert read_rating(sidecar) == 5


def test_our_rating_is_updated_freely(tmp_path):
    photo = _raw(tmp_path)
    write_rating(photo, 2, basis="score-mean")
    result = write_rating(photo, 4, basis="score-percentile")
    assert len(result.written) == 2 and result.kept_manual == []
    for sidecar in result.written:
        assert _ratings(sidecar) == ["4"]
        root = SafeET.fromstring(sidecar.read_bytes())
        (description,) = root.iter(f"{{{RDF_NS}}}Description")
        assert description.get(f"{{{CRITIQUE_NS}}}RatingSource") == "score-percentile"


def test_our_rating_changed_by_the_photographer_is_kept(tmp_path):
    photo = _raw(tmp_path)
    write_rating(photo, 2, basis="score-mean")
    sidecar = tmp_path / "IMG_1.xmp"
    # Lightroom keeps unknown properties when it rewrites the rating.
    sidecar.write_text(
        sidecar.read_text().replace('xmp:Rating="2"', 'xmp:Rating="5"'), encoding="utf-8"
    )
    result = write_rating(photo, 3, basis="score-mean")
    assert result.kept_manual == [sidecar]
    assert read_rating(sidecar) == 5 and read_rating(tmp_path / "IMG_1.CR2.xmp") == 2


def test_same_rating_again_does_not_rewrite(tmp_path):
    photo = _raw(tmp_path)
    first = write_rating(photo, 3, basis="score-mean")
    mtimes = [p.stat().st_mtime_ns for p in first.written]
    again = write_rating(photo, 3, basis="score-mean")
    assert again.written == [] and again.unchanged == first.written
    assert [p.stat().st_mtime_ns for p in first.written] == mtimes


# --- refusing to damage files --------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF',  # truncated
        b"",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    ],
)
def test_invalid_xml_is_left_unchanged(tmp_path, content):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_bytes(content)
    with pytest.raises(CritiqueError, match="not valid XMP") as info:
        write_rating(photo, 4, basis="score-mean")
    assert "\n" not in str(info.value) and "left unchanged" in str(info.value)
    assert sidecar.read_bytes() == content
    assert not (tmp_path / "IMG_1.xmp").exists()  # nothing written when one sidecar is bad
    with pytest.raises(CritiqueError):
        read_rating(sidecar)


def test_not_utf8_is_left_unchanged(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    packet = written_by_critique(1, "score-mean").decode()
    content = ('<?xml version="1.0" encoding="UTF-16"?>\n' + packet).encode("utf-16")
    sidecar.write_bytes(content)
    with pytest.raises(CritiqueError, match="not UTF-8"):
        write_rating(photo, 4, basis="score-mean")
    assert sidecar.read_bytes() == content


def test_failed_verification_leaves_original(tmp_path, monkeypatch):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_text(LIGHTROOM, encoding="utf-8")
    # An edit that parses but changes more than the rating must be refused.
    monkeypatch.setattr("critique_app.core.library.xmp._updates.edit_text",
                        lambda data, *args: data.replace(b"sunset", b"sunrise"))
    with pytest.raises(CritiqueError, match="could not update the rating safely"):
        write_rating(photo, 4, basis="score-mean", overwrite_manual=True)
    assert sidecar.read_text(encoding="utf-8") == LIGHTROOM
    assert not (tmp_path / "IMG_1.xmp").exists()


def test_failed_replace_leaves_original_and_no_temp_files(tmp_path, monkeypatch):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_text(DARKTABLE, encoding="utf-8")
    sidecar.chmod(0o640)
    listing = _listing(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(CritiqueError, match="could not write the sidecar"):
        write_rating(photo, 4, basis="score-mean", overwrite_manual=True)
    assert sidecar.read_text(encoding="utf-8") == DARKTABLE
    assert _listing(tmp_path) == listing


def test_failed_fsync_leaves_no_temp_files(tmp_path, monkeypatch):
    photo = _raw(tmp_path)
    listing = _listing(tmp_path)

    def broken_disk(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_disk)
    with pytest.raises(CritiqueError, match="Input/output error"):
        write_rating(photo, 4, basis="score-mean")
    assert _listing(tmp_path) == listing


def test_permissions_are_preserved(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_text(DARKTABLE, encoding="utf-8")
    sidecar.chmod(0o640)
    write_rating(photo, 4, basis="score-mean", overwrite_manual=True)
    assert read_rating(sidecar) == 4
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o640


def test_read_only_sidecar_is_left_alone(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.CR2.xmp"
    sidecar.write_bytes(written_by_critique(2, "score-mean"))
    sidecar.chmod(0o444)
    with pytest.raises(CritiqueError, match="read-only"):
        write_rating(photo, 4, basis="score-mean")
    assert read_rating(sidecar) == 2


def test_bad_arguments(tmp_path):
    photo = _raw(tmp_path)
    for stars in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError):
            write_rating(photo, stars, basis="score-mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        write_rating(photo, 3, basis='x" evil="1')
    with pytest.raises(CritiqueError, match="photo not found"):
        write_rating(tmp_path / "missing.CR2", 3, basis="score-mean")
    assert _listing(tmp_path) == ["IMG_1.CR2"]


def test_read_rating_without_rating(tmp_path):
    sidecar = tmp_path / "a.xmp"
    sidecar.write_text(
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF_NS}">'
        '<rdf:Description rdf:about=""/></rdf:RDF></x:xmpmeta>',
        encoding="utf-8",
    )
    assert read_rating(sidecar) is None


# --- star mappings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "stars"),
    [(0, 1), (9.99, 1), (10, 2), (29.99, 2), (30, 3), (50, 3), (69.99, 3), (70, 4),
     (89.99, 4), (90, 5), (100, 5)],
)  # fmt: skip
def test_stars_from_percentile(p, stars):
    assert stars_from_percentile(p) == stars


def test_stars_from_percentile_spreads_ten_photos():
    stars = [stars_from_percentile(100 * rank / 9) for rank in range(10)]
    assert [stars.count(s) for s in range(1, 6)] == [1, 2, 4, 2, 1]


@pytest.mark.parametrize("p", [-0.1, 100.1, math.nan])
def test_stars_from_percentile_refuses_out_of_range(p):
    with pytest.raises(ValueError):
        stars_from_percentile(p)


@pytest.mark.parametrize(
    ("mean", "stars"),
    [(0, 1), (1, 1), (2.99, 1), (3, 2), (4.99, 2), (5, 3), (6.99, 3), (7, 4), (8.99, 4),
     (9, 5), (10, 5), (12, 5)],
)  # fmt: skip
def test_stars_from_mean(mean, stars):
    assert stars_from_mean(mean) == stars


def test_stars_from_mean_refuses_nan():
    with pytest.raises(ValueError):
        stars_from_mean(math.nan)
