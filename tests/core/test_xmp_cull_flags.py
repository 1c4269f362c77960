"""A cull's pick and reject in XMP sidecars: what darktable, digiKam and Lightroom read
(checked with exiftool as the independent reader), replaced by a later cull, and never
written over the photographer's own stars, pick or reject."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from critique_app.core.library.ratings import read_photo_rating, set_flag
from critique_app.core.library.xmp import (
    read_pick_label,
    read_rating,
    read_sidecar,
    write_cull_flag,
    write_rating,
)
from tests.helpers.sidecars import DARKTABLE, exiftool, exiftool_tag


def _jpeg(folder: Path, name: str = "IMG_1.JPG") -> Path:
    photo = folder / name
    Image.new("RGB", (32, 24), (90, 120, 150)).save(photo, quality=90)
    return photo


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sidecar(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def test_a_pick_is_digikams_accepted_label_as_exiftool_reads_it(tmp_path):
    photo = _jpeg(tmp_path)
    before = _digest(photo)
    result = write_cull_flag(photo, "pick")
    sidecar = _sidecar(photo)
    assert result.written == [sidecar]
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "3"
    assert exiftool_tag(sidecar, "XMP-xmp:Rating") == ""  # a pick leaves the stars alone
    assert read_sidecar(sidecar).first(("https://github.com/critique-photo/critique/ns/1.0/",
                                        "FlagSource")) == "cull"
    assert _digest(photo) == before  # the photo is never written
    rating = read_photo_rating(photo)
    assert rating.picked and not rating.rejected


def test_a_reject_is_rating_minus_one_and_the_rejected_label(tmp_path):
    photo = _jpeg(tmp_path)
    before = _digest(photo)
    write_cull_flag(photo, "reject")
    sidecar = _sidecar(photo)
    assert exiftool_tag(sidecar, "XMP-xmp:Rating") == "-1"  # darktable and Lightroom
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "1"  # digiKam
    assert _digest(photo) == before
    assert read_photo_rating(photo).rejected


def test_a_later_cull_replaces_its_own_flag(tmp_path):
    photo = _jpeg(tmp_path)
    write_cull_flag(photo, "reject")
    sidecar = _sidecar(photo)
    result = write_cull_flag(photo, "pick")  # the rerun found this frame the best
    assert result.written == [sidecar] and not result.kept_manual
    assert read_pick_label(sidecar) == 3
    assert read_rating(sidecar) is None  # our reject's rating went with it
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "3"
    assert write_cull_flag(photo, "pick").unchanged == [sidecar]  # same again: not rewritten
    cleared = write_cull_flag(photo, None)  # no longer the best, nothing rejected
    assert cleared.written == [sidecar]
    assert read_pick_label(sidecar) is None
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == ""


def test_clearing_makes_no_sidecar(tmp_path):
    photo = _jpeg(tmp_path)
    result = write_cull_flag(photo, None)
    assert not result.written and not _sidecar(photo).exists()


def test_the_photographers_stars_are_kept(tmp_path):
    photo = _jpeg(tmp_path)
    sidecar = _sidecar(photo)
    sidecar.write_text(DARKTABLE)  # darktable's rating: xmp:Rating="1", no marker
    before = sidecar.read_bytes()
    for flag in ("pick", "reject", None):
        result = write_cull_flag(photo, flag)
        assert result.kept_manual == [sidecar] and not result.written
    assert sidecar.read_bytes() == before


@pytest.mark.parametrize("label", ["1", "3"])
def test_a_flag_the_photographer_set_with_digikam_is_kept(tmp_path, label):
    photo = _jpeg(tmp_path)
    sidecar = _sidecar(photo)
    exiftool("-tagsfromfile", photo, f"-XMP-digiKam:PickLabel={label}", "-o", sidecar, photo)
    before = sidecar.read_bytes()
    assert write_cull_flag(photo, "reject" if label == "3" else "pick").kept_manual == [sidecar]
    assert sidecar.read_bytes() == before


def test_a_cull_flag_the_photographer_changed_is_theirs(tmp_path):
    photo = _jpeg(tmp_path)
    sidecar = _sidecar(photo)
    write_cull_flag(photo, "pick")
    exiftool("-XMP-digiKam:PickLabel=1", sidecar)  # rejected it in digiKam
    assert write_cull_flag(photo, "pick").kept_manual == [sidecar]
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "1"


def test_a_flag_set_in_the_app_over_the_culls_is_the_photographers(tmp_path):
    photo = _jpeg(tmp_path)
    write_cull_flag(photo, "pick")
    set_flag(photo, "pick")  # the photographer agrees with the pick in the app
    assert write_cull_flag(photo, "reject").kept_manual == [_sidecar(photo)]
    assert read_photo_rating(photo).picked


def test_the_photos_own_rating_is_kept(tmp_path):
    photo = _jpeg(tmp_path)
    exiftool("-XMP-xmp:Rating=4", photo)  # stars embedded by the camera or Lightroom
    before = _digest(photo)
    result = write_cull_flag(photo, "pick")
    assert result.kept_manual == [photo] and not _sidecar(photo).exists()
    assert _digest(photo) == before


def test_automatic_stars_get_the_pick_beside_them(tmp_path):
    photo = _jpeg(tmp_path)
    write_rating(photo, 4, basis="score-percentile")
    sidecar = _sidecar(photo)
    write_cull_flag(photo, "pick")
    assert exiftool_tag(sidecar, "XMP-xmp:Rating") == "4"
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "3"
    # and the scorer's stars may still be rewritten over the cull's pick
    assert write_rating(photo, 5, basis="score-percentile").written == [sidecar]
    assert exiftool_tag(sidecar, "XMP-digiKam:PickLabel") == "3"


def test_a_culls_reject_keeps_automatic_stars_away(tmp_path):
    photo = _jpeg(tmp_path)
    write_cull_flag(photo, "reject")
    assert write_rating(photo, 5, basis="score-percentile").kept_manual
    assert exiftool_tag(_sidecar(photo), "XMP-xmp:Rating") == "-1"


def test_bad_arguments(tmp_path):
    photo = _jpeg(tmp_path)
    with pytest.raises(ValueError):
        write_cull_flag(photo, "keep")
    with pytest.raises(ValueError):
        write_cull_flag(photo, "pick", basis="user")


def test_a_culls_flags_are_not_training_data(tmp_path):
    from critique_app.core.finetuning.personal import usable_rating
    from train.data.xmp_ratings import read_xmp_folder

    picked, rejected, mine = (_jpeg(tmp_path, f"IMG_{i}.JPG") for i in range(3))
    write_cull_flag(picked, "pick")
    write_cull_flag(rejected, "reject")
    write_cull_flag(mine, "reject")
    set_flag(mine, "reject")  # the photographer agreed: a reject of theirs now
    ratings = {photo: read_photo_rating(photo) for photo in (picked, rejected, mine)}
    assert ratings[picked].picked and ratings[picked].automatic_flag
    assert ratings[rejected].rejected and ratings[rejected].automatic_flag
    assert ratings[mine].rejected and not ratings[mine].automatic_flag
    assert [usable_rating(r) for r in ratings.values()] == [False, False, True]
    dataset = read_xmp_folder(tmp_path)
    assert [row.image.name for row in dataset.rows] == ["IMG_2.JPG"] and dataset.unrated == 2


def test_a_raw_files_reject_reaches_lightrooms_sidecar_too(tmp_path):
    photo = tmp_path / "IMG_1.CR2"
    photo.write_bytes(b"II*\x00 not really a raw file, never opened")
    result = write_cull_flag(photo, "reject")
    names = sorted(path.name for path in result.written)
    assert names == ["IMG_1.CR2.xmp", "IMG_1.xmp"]  # darktable/digiKam, Lightroom
    for name in names:
        assert exiftool_tag(tmp_path / name, "XMP-xmp:Rating") == "-1"
