"""The photographer's own ratings (stars, pick, reject) in XMP sidecars, and the training
reader reading back exactly what was written."""

from __future__ import annotations

import shutil
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from critique_app.core.library.ratings import (
    PhotoRating,
    read_photo_rating,
    read_ratings,
    set_flag,
    set_stars,
    summarize_folder,
)
from critique_app.core.library.xmp import (
    CRITIQUE_NS,
    read_pick_label,
    read_rating,
    write_rating,
)
from critique_app.core.util.errors import CritiqueError
from tests.helpers.photos import PHOTOS
from tests.helpers.sidecars import DARKTABLE, LIGHTROOM
from train.data.formats import load_dataset

DIGIKAM_ELEMENT = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmp:Rating="0">
   <digiKam:ColorLabel>2</digiKam:ColorLabel>
   <digiKam:PickLabel>3</digiKam:PickLabel>
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>holiday</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def _photo(folder: Path, name: str = "chelsea.png", source: str = "chelsea") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(PHOTOS[source], folder / name))


def _raw(folder: Path, name: str = "IMG_1.CR2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / name
    photo.write_bytes(b"II*\x00 not really a raw file, never opened")
    return photo


def _attribute(sidecar: Path, uri: str, local: str) -> list[str]:
    root = SafeET.fromstring(sidecar.read_bytes())
    key = f"{{{uri}}}{local}"
    return [element.attrib[key] for element in root.iter() if key in element.attrib]


# --- stars ---------------------------------------------------------------------------


def test_stars_round_trip_and_the_photo_is_never_touched(tmp_path):
    photo = _photo(tmp_path)
    before = photo.read_bytes()
    assert read_photo_rating(photo) == PhotoRating()  # no sidecar: unrated
    for stars in (3, 5, 1, 4):
        update = set_stars(photo, stars)
        assert update.written == [tmp_path / "chelsea.png.xmp"]
        assert read_photo_rating(photo) == PhotoRating(stars=stars) == update.rating
        assert read_rating(tmp_path / "chelsea.png.xmp") == stars
    sidecar = tmp_path / "chelsea.png.xmp"
    assert _attribute(sidecar, CRITIQUE_NS, "RatingSource") == ["user"]
    assert update.message() == "chelsea.png: ★★★★ saved to chelsea.png.xmp"

    again = set_stars(photo, 4)  # same stars: the file is not rewritten
    assert again.written == [] and again.unchanged == [sidecar]
    assert again.message() == "chelsea.png: ★★★★, already in chelsea.png.xmp"

    cleared = set_stars(photo, 0)
    assert read_rating(sidecar) == 0 and not cleared.rating.rated
    assert cleared.message() == "chelsea.png: rating cleared saved to chelsea.png.xmp"
    assert photo.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chelsea.png", "chelsea.png.xmp"]


def test_clearing_a_photo_without_sidecar_creates_none(tmp_path):
    photo = _photo(tmp_path)
    update = set_stars(photo, 0)
    assert update.written == update.unchanged == []
    assert not (tmp_path / "chelsea.png.xmp").exists()
    assert set_flag(photo, None).written == []
    assert not (tmp_path / "chelsea.png.xmp").exists()


def test_raw_photo_updates_both_sidecars(tmp_path):
    photo = _raw(tmp_path)
    update = set_stars(photo, 2)
    assert update.written == [tmp_path / "IMG_1.CR2.xmp", tmp_path / "IMG_1.xmp"]
    assert [read_rating(p) for p in update.written] == [2, 2]
    set_flag(photo, "pick")
    assert [read_pick_label(p) for p in update.written] == [3, 3]


@pytest.mark.parametrize("bad", [-1, 6, 2.5, True, "3"])
def test_bad_stars_are_refused(tmp_path, bad):
    photo = _photo(tmp_path)
    with pytest.raises(ValueError):
        set_stars(photo, bad)
    assert not (tmp_path / "chelsea.png.xmp").exists()


# --- pick and reject -----------------------------------------------------------------


def test_pick_reject_and_clearing_them(tmp_path):
    photo = _photo(tmp_path)
    sidecar = tmp_path / "chelsea.png.xmp"

    set_stars(photo, 4)
    update = set_flag(photo, "pick")  # a pick keeps the stars
    assert update.rating == read_photo_rating(photo) == PhotoRating(stars=4, picked=True)
    assert read_rating(sidecar) == 4 and read_pick_label(sidecar) == 3
    assert update.message() == "chelsea.png: ★★★★, picked saved to chelsea.png.xmp"

    update = set_flag(photo, "reject")  # a reject replaces the stars and clears the pick
    assert read_photo_rating(photo) == PhotoRating(rejected=True) == update.rating
    assert read_rating(sidecar) == -1 and read_pick_label(sidecar) is None
    assert "PickLabel" not in sidecar.read_text()

    set_flag(photo, "pick")  # a pick clears the reject
    assert read_photo_rating(photo) == PhotoRating(picked=True)
    assert read_rating(sidecar) == 0 and read_pick_label(sidecar) == 3

    set_flag(photo, None)  # unpick
    assert read_photo_rating(photo) == PhotoRating()
    assert read_pick_label(sidecar) is None

    set_flag(photo, "reject")
    set_stars(photo, 0)  # clearing stars keeps a reject
    assert read_photo_rating(photo).rejected
    set_stars(photo, 2)  # stars replace it (one xmp:Rating holds both)
    assert read_photo_rating(photo) == PhotoRating(stars=2)
    set_flag(photo, "reject")
    set_flag(photo, None)  # unreject
    assert read_photo_rating(photo) == PhotoRating() and read_rating(sidecar) == 0


def test_digikam_reject_label_and_element_form(tmp_path):
    photo = _photo(tmp_path)
    sidecar = tmp_path / "chelsea.png.xmp"
    sidecar.write_text(DIGIKAM_ELEMENT.replace(">3</digiKam:PickLabel>",
                                               ">1</digiKam:PickLabel>"), encoding="utf-8")
    assert read_photo_rating(photo) == PhotoRating(rejected=True)
    set_flag(photo, "pick")  # replaces the element's value
    assert read_pick_label(sidecar) == 3
    assert sidecar.read_text(encoding="utf-8") == DIGIKAM_ELEMENT

    set_flag(photo, None)  # removes the element and its line, nothing else
    assert sidecar.read_text(encoding="utf-8") == DIGIKAM_ELEMENT.replace(
        "\n   <digiKam:PickLabel>3</digiKam:PickLabel>", "")
    assert read_photo_rating(photo) == PhotoRating()


def test_disagreeing_sidecars_are_all_brought_in_line(tmp_path):
    photo = _raw(tmp_path)
    set_stars(photo, 3)
    stem = tmp_path / "IMG_1.xmp"
    stem.write_text(stem.read_text().replace('xmp:Rating="3"', 'xmp:Rating="-1"'))
    assert read_photo_rating(photo) == PhotoRating(stars=3, rejected=True)  # a reject wins
    set_flag(photo, None)
    assert read_photo_rating(photo) == PhotoRating(stars=3)
    assert [read_rating(p) for p in (tmp_path / "IMG_1.CR2.xmp", stem)] == [3, 3]


# --- other programs' sidecars --------------------------------------------------------


def test_lightroom_sidecar_keeps_every_other_byte(tmp_path):
    photo = _raw(tmp_path)
    sidecar = tmp_path / "IMG_1.xmp"
    sidecar.write_text(LIGHTROOM, encoding="utf-8")
    assert read_photo_rating(photo) == PhotoRating(stars=3)

    set_stars(photo, 5)  # the photographer's own Lightroom rating is replaced
    marker = ('\n   xmlns:critique="https://github.com/critique-photo/critique/ns/1.0/"'
              '\n   critique:RatingSource="user"\n   critique:WrittenRating="5"')
    rated = LIGHTROOM.replace('xmp:Rating="3"', 'xmp:Rating="5"').replace(
        'crs:AlreadyApplied="False"', 'crs:AlreadyApplied="False"' + marker)
    assert sidecar.read_text(encoding="utf-8") == rated

    set_flag(photo, "pick")
    pick = ('\n   xmlns:digiKam="http://www.digikam.org/ns/1.0/"'
            '\n   digiKam:PickLabel="3"')
    picked = rated.replace(marker, marker + pick)
    assert sidecar.read_text(encoding="utf-8") == picked

    set_flag(photo, None)  # the label goes; the namespace declaration may stay
    assert sidecar.read_text(encoding="utf-8") == picked.replace(
        '\n   digiKam:PickLabel="3"', "")


def test_darktable_sidecar_reject(tmp_path):
    photo = _raw(tmp_path, "IMG_0042.CR2")
    sidecar = tmp_path / "IMG_0042.CR2.xmp"
    sidecar.write_text(DARKTABLE, encoding="utf-8")
    set_flag(photo, "reject")
    text = sidecar.read_text(encoding="utf-8")
    assert 'xmp:Rating="-1"' in text and text.count("darktable:operation") == 2
    assert text.replace('xmp:Rating="-1"', 'xmp:Rating="1"').startswith(
        DARKTABLE.split("   darktable:history_current_hash")[0])


# --- the photographer's ratings and automatic ones -----------------------------------


def test_user_ratings_are_kept_from_the_automatic_writer(tmp_path):
    photo = _photo(tmp_path)
    sidecar = tmp_path / "chelsea.png.xmp"
    set_stars(photo, 2)
    result = write_rating(photo, 5, basis="score-percentile")
    assert result.kept_manual == [sidecar] and read_rating(sidecar) == 2

    set_flag(photo, "reject")
    assert write_rating(photo, 5, basis="score-mean").kept_manual == [sidecar]
    set_flag(photo, "pick")  # a pick alone (no stars) is a judgement too
    assert write_rating(photo, 5, basis="score-mean").kept_manual == [sidecar]
    assert read_photo_rating(photo) == PhotoRating(picked=True)

    set_flag(photo, None)  # unrated again: the scorer may rate it
    assert write_rating(photo, 5, basis="score-mean").written == [sidecar]
    with pytest.raises(ValueError, match="photographer"):
        write_rating(photo, 5, basis="user")


def test_the_same_stars_as_the_scorer_become_the_photographers(tmp_path):
    photo = _photo(tmp_path)
    sidecar = tmp_path / "chelsea.png.xmp"
    write_rating(photo, 4, basis="score-mean")
    assert read_photo_rating(photo) == PhotoRating(stars=4, automatic=True)
    update = set_stars(photo, 4)
    assert update.written == [sidecar]
    assert _attribute(sidecar, CRITIQUE_NS, "RatingSource") == ["user"]
    assert read_photo_rating(photo) == PhotoRating(stars=4)
    assert write_rating(photo, 1, basis="score-mean").kept_manual == [sidecar]


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF', b""])
def test_broken_sidecar_is_one_line_and_left_alone(tmp_path, content):
    photo = _photo(tmp_path)
    sidecar = tmp_path / "chelsea.png.xmp"
    sidecar.write_bytes(content)
    for action in (lambda: read_photo_rating(photo), lambda: set_stars(photo, 3),
                   lambda: set_flag(photo, "reject")):
        with pytest.raises(CritiqueError, match="not valid XMP") as info:
            action()
        assert "\n" not in str(info.value) and "chelsea.png.xmp" in str(info.value)
    assert sidecar.read_bytes() == content
    ((_, error),) = list(read_ratings([photo]))
    assert isinstance(error, CritiqueError)


def test_read_only_sidecar_is_refused(tmp_path):
    photo = _photo(tmp_path)
    set_stars(photo, 3)
    sidecar = tmp_path / "chelsea.png.xmp"
    sidecar.chmod(0o444)
    with pytest.raises(CritiqueError, match="read-only"):
        set_stars(photo, 5)
    assert read_rating(sidecar) == 3


def test_missing_photo(tmp_path):
    with pytest.raises(CritiqueError, match="photo not found"):
        set_stars(tmp_path / "gone.jpg", 3)


# --- what the training reader sees ---------------------------------------------------


def test_the_training_reader_reads_back_what_was_written(tmp_path):
    shoot = tmp_path / "shoot"
    names = ["chelsea", "coffee", "astronaut", "rocket", "camera", "china"]
    photos = {name: _photo(shoot, PHOTOS[name].name, name) for name in names}
    set_stars(photos["chelsea"], 5)
    set_stars(photos["coffee"], 2)
    set_flag(photos["coffee"], "pick")  # stars and a pick: the stars count
    set_flag(photos["astronaut"], "pick")
    set_stars(photos["rocket"], 4)
    set_flag(photos["rocket"], "reject")
    set_flag(photos["camera"], "reject")
    set_flag(photos["camera"], None)  # changed my mind: unrated
    # china: never rated
    raw = _raw(shoot / "day2")
    set_stars(raw, 1)

    dataset = load_dataset(shoot)
    assert (dataset.format, dataset.kind, dataset.errors) == ("xmp", "score", [])
    by_name = {row.image.name: row.rating for row in dataset.rows}
    assert by_name == {"chelsea.png": "5 stars", "coffee.png": "2 stars",
                       "astronaut.png": "pick", "rocket.jpg": "reject", "IMG_1.CR2": "1 star"}
    assert dataset.unrated == 2 and dataset.total_lines == 7

    summary = summarize_folder(shoot)
    assert (summary.total, summary.rated) == (dataset.total_lines, len(dataset.rows))
    assert (summary.picked, summary.rejected, summary.automatic) == (1, 1, 0)
    assert summary.stars == {1: 1, 2: 1, 3: 0, 4: 0, 5: 1}
    top = summarize_folder(shoot, recursive=False)
    assert (top.total, top.rated) == (6, 4)

    ratings = dict(read_ratings(sorted(photos.values())))
    assert ratings[photos["coffee"]].badge() == "★★ ⚑"
    assert ratings[photos["rocket"]].badge() == "✕" and ratings[photos["china"]].badge() == ""
    assert ratings[photos["astronaut"]].label() == "picked"


def test_summary_counts_broken_sidecars_as_problems(tmp_path):
    photo = _photo(tmp_path)
    _photo(tmp_path, "coffee.png", "coffee")
    set_stars(photo, 3)
    (tmp_path / "coffee.png.xmp").write_text("<x:xmpmeta><rdf:RDF")
    summary = summarize_folder(tmp_path)
    assert (summary.total, summary.rated) == (2, 1)
    (problem,) = summary.problems
    assert "coffee.png.xmp" in problem and "not valid XMP" in problem
    dataset = load_dataset(tmp_path)
    assert len(dataset.rows) == 1 and len(dataset.errors) == 1
    with pytest.raises(CritiqueError, match="folder not found"):
        summarize_folder(tmp_path / "nowhere")



def test_the_trainer_does_not_learn_from_stars_the_scorer_wrote(tmp_path):
    """A personal model learns the photographer's judgement, not the scorer's."""
    import shutil

    from critique_app.core.library.ratings import set_stars
    from critique_app.core.library.xmp import write_rating
    from tests.helpers.photos import PHOTOS
    from train.data.formats import load_dataset

    for name in ("chelsea", "coffee"):
        shutil.copy(PHOTOS[name], tmp_path / f"{name}.png")
    write_rating(tmp_path / "chelsea.png", 4, basis="score-mean")
    set_stars(tmp_path / "coffee.png", 2)
    dataset = load_dataset(tmp_path)
    assert [row.image.name for row in dataset.rows] == ["coffee.png"]
    assert dataset.unrated == 1
