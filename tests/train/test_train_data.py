"""Dataset readers for training: every format, bad rows with their line numbers, the split."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from PIL import Image

from critique_app.core.library.ratings import set_stars
from tests.helpers.photos import PHOTOS
from train.data.ava import read_ava
from train.data.formats import FORMATS, describe_validation, detect_format, load_dataset
from train.data.generic import read_generic_csv
from train.data.impressions import persona_traits, read_impressions
from train.data.records import CritiqueRow, DataError, ScoreRow
from train.data.score_targets import (
    PICK_SCORE,
    REJECT_SCORE,
    distribution_from_flag,
    distribution_from_score,
    distribution_from_stars,
    distribution_from_votes,
    score_from_flag,
    score_from_stars,
)
from train.data.split import split_rows
from train.data.xmp_ratings import read_xmp_folder

_SMALL = None


def jpeg(path: Path) -> Path:
    """A small real JPEG (the cat photo, shrunk) at ``path``."""
    global _SMALL
    if _SMALL is None:
        with Image.open(PHOTOS["chelsea"]) as image:
            _SMALL = image.convert("RGB").resize((32, 24))
    path.parent.mkdir(parents=True, exist_ok=True)
    _SMALL.save(path, format="JPEG", quality=80)
    return path


def mean(distribution) -> float:
    return sum((i + 1) * p for i, p in enumerate(distribution))


def error_lines(dataset) -> list[int]:
    return [e.line for e in dataset.errors]


# --- ratings --------------------------------------------------------------------------


def test_votes_are_normalised():
    d = distribution_from_votes([0, 1, 5, 17, 38, 36, 15, 6, 5, 1])
    assert math.isclose(sum(d), 1) and math.isclose(d[4], 38 / 124)
    for bad in ([0] * 10, [1] * 9, [1, -1, *[0] * 8], [math.nan, *[1] * 9]):
        with pytest.raises(ValueError):
            distribution_from_votes(bad)


@pytest.mark.parametrize("score", [2, 3.3, 5.5, 7, 9])
def test_score_bump_sums_to_one_and_centres_on_the_score(score):
    d = distribution_from_score(score)
    assert math.isclose(sum(d), 1) and len(d) == 10
    assert abs(mean(d) - score) < 0.15
    assert d.index(max(d)) + 1 == round(score) or abs(score - round(score)) == 0.5


def test_score_bump_at_the_ends_stays_spread_and_ordered():
    top, bottom = distribution_from_score(10), distribution_from_score(1)
    assert 9.3 < mean(top) < 10 and 1 < mean(bottom) < 1.7
    assert max(top) < 0.7  # not a point mass
    assert distribution_from_score(5.5, sigma=1e-3)[4] == pytest.approx(0.5)
    for bad in (0, 0.99, 10.01, math.nan, math.inf):
        with pytest.raises(ValueError):
            distribution_from_score(bad)
    with pytest.raises(ValueError):
        distribution_from_score(5, sigma=0)


def test_stars_and_flags_on_the_ten_point_scale():
    assert [score_from_stars(s) for s in range(1, 6)] == [1, 3.25, 5.5, 7.75, 10]
    for bad in (0, 6, True, 2.5):
        with pytest.raises(ValueError):
            score_from_stars(bad)
    assert (score_from_flag("reject"), score_from_flag("pick")) == (REJECT_SCORE, PICK_SCORE)
    assert mean(distribution_from_flag("reject")) < mean(distribution_from_stars(2))
    assert mean(distribution_from_stars(3)) < mean(distribution_from_flag("pick"))
    with pytest.raises(ValueError):
        score_from_flag("maybe")


# --- AVA ------------------------------------------------------------------------------


def ava_line(index: int, image_id: str, votes: list) -> str:
    return " ".join(str(v) for v in (index, image_id, *votes, 1, 22, 1396))


VOTES = [0, 1, 5, 17, 38, 36, 15, 6, 5, 1]


@pytest.fixture
def ava(tmp_path):
    root = tmp_path / "AVA_dataset"
    for name in ("953619", "953958"):
        jpeg(root / "images" / f"{name}.jpg")
    jpeg(root / "954184.jpg")  # beside AVA.txt also works
    lines = [
        ava_line(1, "953619", VOTES),
        ava_line(2, "953958", [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        "3 954113 0 1 5 17 38 36 15 6 5 1 1 22",  # 14 fields
        ava_line(4, "953619", [0, 1, "x", 17, 38, 36, 15, 6, 5, 1]),
        ava_line(5, "953619", [0] * 10),
        "",
        ava_line(7, "953619", [0, 1, 5, -17, 38, 36, 15, 6, 5, 1]),
        ava_line(8, "999999", VOTES),  # no such photo
        ava_line(9, "954184", VOTES),
    ]
    path = root / "AVA.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ava_rows_and_every_bad_line(ava):
    dataset = read_ava(ava)
    assert (dataset.kind, dataset.format) == ("score", "ava")
    assert [r.line for r in dataset.rows] == [1, 2, 9]
    assert error_lines(dataset) == [3, 4, 5, 7, 8]
    assert dataset.total_lines == 8  # the blank line is not a row
    messages = [e.message for e in dataset.errors]
    assert messages[0] == "expected 15 fields, found 14"
    assert "not a whole number" in messages[1] and messages[2] == "no votes"
    assert "negative" in messages[3] and messages[4] == "photo 999999.jpg not found"
    first = dataset.rows[0]
    assert first.image == ava.parent / "images" / "953619.jpg" and first.image.is_absolute()
    assert first.distribution == pytest.approx([v / 124 for v in VOTES])
    assert first.rating == "124 votes" and first.rater is None
    assert dataset.rows[1].mean == pytest.approx(1)
    assert dataset.rows[2].image == ava.parent / "954184.jpg"


def test_ava_with_an_explicit_image_folder(ava, tmp_path):
    elsewhere = tmp_path / "photos"
    jpeg(elsewhere / "999999.jpg")
    dataset = read_ava(ava, images=elsewhere)
    assert [r.line for r in dataset.rows] == [8]


def test_ava_is_detected_by_name_by_shape_and_by_folder(ava, tmp_path):
    assert load_dataset(ava).format == "ava"
    assert detect_format(ava.parent) == ("ava", ava)
    renamed = ava.parent / "ratings.txt"
    renamed.write_text(ava.read_text())
    assert detect_format(renamed)[0] == "ava"


# --- generic CSV and JSONL ------------------------------------------------------------


def test_generic_csv_scores_every_rating_kind(tmp_path):
    for name in "abcdefg":
        jpeg(tmp_path / "shoot" / f"{name}.jpg")
    absolute = jpeg(tmp_path / "elsewhere" / "z.jpg")
    p = ",".join(f"p{i}" for i in range(1, 11))
    rows = [
        f"image,score,stars,distribution,rater,{p}",
        "shoot/a.jpg,7.5,,,ann," + "," * 9,
        "shoot/b.jpg,,4,,bob," + "," * 9,
        'shoot/c.jpg,,,"[0,0,0,0,1,1,0,0,0,0]",,' + "," * 9,
        "shoot/d.jpg,,,,,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1",
        "shoot/e.jpg,11,,,,," + "," * 8,  # line 6: out of range
        "shoot/missing.jpg,5,,,,," + "," * 8,  # line 7
        "shoot/f.jpg,5,,,",  # line 8: too few columns
        "shoot/g.jpg,,,,,," + "," * 8,  # line 9: no rating
        f"{absolute},,,0 0 0 0 0 0 0 0 3 1,,," + "," * 8,
        "shoot/g.jpg,,6,,,," + "," * 8,  # line 11: 6 stars
    ]
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    dataset = read_generic_csv(path)
    assert (dataset.kind, dataset.format) == ("score", "csv")
    assert [r.line for r in dataset.rows] == [2, 3, 4, 5, 10]
    assert error_lines(dataset) == [6, 7, 8, 9, 11]
    assert "outside 1-10" in dataset.errors[0].message
    assert dataset.errors[1].message == "photo not found: shoot/missing.jpg"
    assert "expected 15 columns, found 5" in dataset.errors[2].message
    a, b, c, d, z = dataset.rows
    assert a.image == tmp_path / "shoot" / "a.jpg" and a.rater == "ann" and a.rating == "score 7.5"
    assert a.mean == pytest.approx(7.5, abs=0.05)
    assert b.rating == "4 stars" and b.mean == pytest.approx(7.75, abs=0.05)
    assert c.distribution[4:6] == (0.5, 0.5)
    assert d.mean == pytest.approx(5.5)
    assert z.image == absolute and z.mean == pytest.approx(9.25)
    assert all(math.isclose(sum(r.distribution), 1) for r in dataset.rows)


def test_csv_line_numbers_follow_quoted_line_breaks(tmp_path):
    jpeg(tmp_path / "a.jpg")
    text = ('image,description,impression,persona,emotion_label,emotion\n'
            'a.jpg,"A cat\non a\nsofa.",Calm.,novice,contentment,It feels calm.\n'
            '\n'
            'a.jpg,,,,joy,\n'  # line 6: not an ArtEmis emotion
            'a.jpg,,,,,\n'  # line 7: no text
            'b.jpg,A dog.,,,,\n')  # line 8: missing
    path = tmp_path / "critiques.csv"
    path.write_text(text)
    dataset = read_generic_csv(path)
    assert dataset.kind == "critique"
    assert error_lines(dataset) == [6, 7, 8]
    assert "not one of" in dataset.errors[0].message
    (row,) = dataset.rows
    assert row.line == 2 and row.persona == "novice" and row.emotion == "contentment"
    assert row.sections == {"description": "A cat\non a\nsofa.", "impression": "Calm.",
                            "emotion": "It feels calm."}
    assert row.explanation == "It feels calm."


def test_csv_with_windows_line_ends_an_image_folder_and_partial_columns(tmp_path):
    jpeg(tmp_path / "photos" / "a.jpg")
    p = ",".join(f"p{i}" for i in range(1, 11))
    rows = [f"image,{p}", "a.jpg," + ",".join(["1"] * 10), "a.jpg,1,1" + "," * 8,
            "a.jpg," + ",".join(["0"] * 10), "a.jpg,1,-1" + ",1" * 8]
    path = tmp_path / "probs.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    dataset = load_dataset(path, images=tmp_path / "photos")
    assert [r.line for r in dataset.rows] == [2]
    assert dataset.rows[0].image == tmp_path / "photos" / "a.jpg"
    assert [str(e) for e in dataset.errors] == [
        "line 3: p3 is empty", "line 4: p1..p10 is all zeros",
        "line 5: p1..p10 has a negative number"]


def test_csv_kind_comes_from_the_columns(tmp_path):
    jpeg(tmp_path / "a.jpg")
    both = tmp_path / "both.csv"
    both.write_text("image,score,impression\na.jpg,6,Quiet.\n")
    with pytest.raises(DataError, match="both score and critique"):
        read_generic_csv(both)
    assert read_generic_csv(both, kind="critique").rows[0].sections == {"impression": "Quiet."}
    assert read_generic_csv(both, kind="score").rows[0].rating == "score 6"
    neither = tmp_path / "neither.csv"
    neither.write_text("image,caption\na.jpg,hello\n")
    with pytest.raises(DataError, match="neither"):
        load_dataset(neither)
    no_image = tmp_path / "no_image.csv"
    no_image.write_text("photo,score\na.jpg,6\n")
    with pytest.raises(DataError, match="'image' column"):
        load_dataset(no_image)


def test_jsonl_reports_bad_lines_and_reads_lists(tmp_path):
    jpeg(tmp_path / "img" / "a.jpg")
    lines = [
        json.dumps({"image": "img/a.jpg", "distribution": [1, 2, 3, 4, 5, 5, 4, 3, 2, 1]}),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"image": "img/a.jpg", "votes1": 3, **{f"votes{i}": 0 for i in range(2, 11)}}),
        json.dumps({"Image": "img/a.jpg", "Stars": 2, "rater": "me"}),
        json.dumps({"image": "img/a.jpg", "distribution": [1, 2, 3]}),
    ]
    path = tmp_path / "ratings.jsonl"
    path.write_text("\n".join(lines))
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind) == ("jsonl", "score")
    assert error_lines(dataset) == [2, 4, 7]
    assert dataset.errors[0].message.startswith("not valid JSON")
    assert "needs 10 numbers, found 3" in dataset.errors[2].message
    assert [r.line for r in dataset.rows] == [1, 5, 6]
    assert dataset.rows[1].rating == "3 votes" and dataset.rows[1].mean == pytest.approx(1)
    assert dataset.rows[2].rater == "me" and dataset.total_lines == 6


def test_jsonl_critiques(tmp_path):
    jpeg(tmp_path / "a.jpg")
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"image": "a.jpg", "emotion_label": "Something_else",
                                "explanation": "Odd.", "suggestions": "Crop tighter."}) + "\n")
    (row,) = load_dataset(path).rows
    assert isinstance(row, CritiqueRow) and row.emotion == "something else"
    assert row.explanation == "Odd." and row.sections == {"suggestions": "Crop tighter."}


# --- ArtEmis --------------------------------------------------------------------------


def test_artemis_rows_emotions_and_missing_paintings(tmp_path):
    jpeg(tmp_path / "wikiart" / "Impressionism" / "claude-monet_water-lilies.jpg")
    jpeg(tmp_path / "wikiart" / "Cubism" / "juan-gris_still-life.jpg")
    path = tmp_path / "artemis_dataset_release_v0.csv"
    path.write_text(
        "art_style,painting,emotion,utterance,repetition\n"
        "Impressionism,claude-monet_water-lilies,contentment,The soft colours are calm,10\n"
        "Cubism,juan-gris_still-life,something else,\"Shapes everywhere, puzzling\",5\n"
        "Cubism,juan-gris_still-life,joy,Happy,5\n"
        "Cubism,pablo-picasso_nothing,fear,Scary,5\n"
        "Impressionism,claude-monet_water-lilies,awe,,10\n"
    )
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind) == ("artemis", "critique")
    assert [r.line for r in dataset.rows] == [2, 3]
    assert error_lines(dataset) == [4, 5, 6]
    assert "'joy' is not one of" in dataset.errors[0].message
    assert dataset.errors[1].message == "painting not found: Cubism/pablo-picasso_nothing.jpg"
    first, second = dataset.rows
    assert first.image == tmp_path / "wikiart" / "Impressionism" / "claude-monet_water-lilies.jpg"
    assert first.emotion == "contentment" and first.explanation == "The soft colours are calm"
    assert first.sections == {"emotion": "The soft colours are calm"}
    assert second.emotion == "something else"
    assert dataset.counts()["emotion:something else"] == 1


# --- Impressions ----------------------------------------------------------------------

IMPRESSIONS_HEADER = (",AnnotatorId,ImgId,caption,Impact,image_description,image_impression,"
                      "image_aesthetic_eval\n")


@pytest.fixture
def impressions(tmp_path):
    """The release's layout: metadata/*.csv and media/<ImgId>.png."""
    for image_id in ("00715db9_cap2_2", "0091ac4b"):
        jpeg(tmp_path / "media" / f"{image_id}.png")  # JPEG bytes; only the name matters here
    meta = tmp_path / "metadata"
    meta.mkdir()
    (meta / "annotator_personality_data.csv").write_text(
        ",AnnotatorId,Is reserved,Extroversion,Openness\n"
        "0,annotator060,Agree,-2,3\n1,annotator017,Disagree,3,2\n2,annotator032,Neutral,0,1\n")
    (meta / "annotator_demographic_data.csv").write_text(
        ",AnnotatorId,Age,Visual Arts Experience,Profession\n"
        "0,annotator060,30-45,None,Other\n1,annotator017,22-30,3-4 years,Other\n"
        '2,annotator032,22-30,Hobby,"Arts, Culture, and Entertainment"\n')
    path = meta / "image_annotation_meta.csv"
    path.write_text(
        IMPRESSIONS_HEADER
        + '0,annotator060,00715db9_cap2_2,California,1.0,A big city.,"It feels busy,\n'
        'alive.",The clouds contrast with the towers.\n'  # lines 2-3
        "1,annotator017,00715db9_cap2_2,California,1.0,Skyscrapers.,Diversity.,Contrast.\n"
        "2,annotator032,0091ac4b,Florida,2.0,A protest.,Power.,Motion.\n"
        "3,annotator032,missing-id,Ohio,2.0,A river.,Calm.,Reflections.\n"  # line 6
        "4,annotator017,0091ac4b,Florida,2.0,,,\n"  # line 7: no text
    )
    return path


def test_impressions_sections_personas_and_bad_rows(impressions):
    dataset = load_dataset(impressions)
    assert (dataset.format, dataset.kind) == ("impressions", "critique")
    assert [r.line for r in dataset.rows] == [2, 4, 5]
    assert error_lines(dataset) == [6, 7]
    assert dataset.errors[0].message == "image not found: missing-id"
    first, second, third = dataset.rows
    assert first.image == impressions.parent.parent / "media" / "00715db9_cap2_2.png"
    assert first.sections == {"description": "A big city.", "impression": "It feels busy,\nalive.",
                              "evaluation": "The clouds contrast with the towers."}
    assert first.persona == "introvert+novice"
    assert second.persona == "extrovert+art-experienced"
    assert third.persona is None  # extroversion 0, a hobby: neither trait
    assert persona_traits(second.persona) == {"extrovert", "art-experienced"}
    assert dataset.counts()["persona:introvert+novice"] == 1


def test_impressions_persona_column_and_aliases(tmp_path):
    jpeg(tmp_path / "images" / "x1.jpg")
    path = tmp_path / "mine.csv"
    path.write_text("img_id,description,evaluation,persona\nx1,A hill.,Good light.,critic\n")
    dataset = read_impressions(path)
    (row,) = dataset.rows
    assert row.persona == "critic" and row.sections == {"description": "A hill.",
                                                        "evaluation": "Good light."}


# --- PCCD -----------------------------------------------------------------------------


def test_pccd_entries_map_to_sections(tmp_path):
    jpeg(tmp_path / "images" / "full" / "14_winter-wonderland-1")  # no extension, as released
    jpeg(tmp_path / "images" / "full" / "16_beautiful-ruins.jpg")
    entries = [
        {"title": "14_winter-wonderland-1", "general_impression": "Very good, well balanced.",
         "subject_of_photo": "Snowy trees make a perfect subject!", "composition":
         "Shore lines lead the eye", "use_of_camera": "", "depth_of_field": "Deep enough.",
         "color_lighting": "Typical winter tones.", "focus": "Sharp.", "description": "Mine.",
         "score": ["8", "10", "7", "9", "9", "8", "9"], "overall": "8.6"},
        "not an object",
        {"general_impression": "No name."},
        {"im_name": "16_beautiful-ruins", "composition": "Balanced.",
         "suggestions": ["Brighten the land.", "Try dusk."]},
        {"title": "nowhere", "composition": "Fine."},
        {"title": "16_beautiful-ruins", "description": "Only the photographer's note."},
        {"title": "16_beautiful-ruins", "composition": 7},
    ]
    path = tmp_path / "guru_train.json"
    path.write_text(json.dumps(entries, indent=1))
    dataset = load_dataset(path)
    assert (dataset.format, dataset.kind, dataset.total_lines) == ("pccd", "critique", 7)
    assert [r.line for r in dataset.rows] == [1, 4]
    assert error_lines(dataset) == [2, 3, 5, 6, 7]
    assert dataset.errors[2].message == "photo not found: nowhere"
    first, second = dataset.rows
    assert first.image == tmp_path / "images" / "full" / "14_winter-wonderland-1"
    assert first.sections["impression"] == "Very good, well balanced."
    assert first.sections["evaluation"] == (
        "Subject: Snowy trees make a perfect subject! Composition: Shore lines lead the eye. "
        "Colour and lighting: Typical winter tones. Depth of field: Deep enough. Focus: Sharp.")
    assert "description" not in first.sections
    assert second.sections == {"evaluation": "Composition: Balanced.",
                               "suggestions": "Brighten the land.\nTry dusk."}
    assert "guru_train.json entry 2: not an object" in describe_validation(dataset)


def test_pccd_broken_json_is_one_error(tmp_path):
    path = tmp_path / "guru.json"
    path.write_text('[{"title": "a",\n "x": }]')
    with pytest.raises(DataError, match="line 2"):
        load_dataset(path)
    path.write_text('{"title": "a"}')
    with pytest.raises(DataError, match="JSON list"):
        load_dataset(path)


# --- XMP ratings ----------------------------------------------------------------------

DIGIKAM = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
   xmp:Rating="{rating}"{attribute}>{element}</rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def digikam(photo: Path, rating: int = 0, pick: int | None = None, element: bool = False):
    attribute = f' digiKam:PickLabel="{pick}"' if pick is not None and not element else ""
    child = f"<digiKam:PickLabel>{pick}</digiKam:PickLabel>" if element else ""
    (photo.parent / f"{photo.name}.xmp").write_text(
        DIGIKAM.format(rating=rating, attribute=attribute, element=child))


def test_xmp_folder_stars_flags_unrated_and_a_broken_sidecar(tmp_path):
    shoot = tmp_path / "shoot"
    photos = {name: jpeg(shoot / f"{name}.jpg") for name in "abcdefgh"}
    set_stars(photos["a"], 4)
    set_stars(photos["b"], 1)
    # c: no sidecar at all
    digikam(photos["d"], rating=-1)  # darktable/Lightroom reject
    digikam(photos["e"], rating=0, pick=3)  # digiKam accepted
    digikam(photos["f"], rating=5, pick=1)  # rejected wins over stars
    (shoot / "g.jpg.xmp").write_text("<x:xmpmeta><rdf:RDF")  # broken
    digikam(photos["h"], rating=0, pick=3, element=True)
    jpeg(shoot / "day2" / "i.jpg")
    set_stars(shoot / "day2" / "i.jpg", 5)
    jpeg(shoot / ".thumbs" / "j.jpg")
    set_stars(shoot / ".thumbs" / "j.jpg", 5)
    (shoot / "notes.txt").write_text("not a photo")

    dataset = load_dataset(shoot)
    assert (dataset.format, dataset.kind) == ("xmp", "score")
    assert dataset.total_lines == 9 and dataset.unrated == 1
    assert dataset.counts()["unrated"] == 1
    by_name = {r.image.name: r for r in dataset.rows}
    assert sorted(by_name) == ["a.jpg", "b.jpg", "d.jpg", "e.jpg", "f.jpg", "h.jpg", "i.jpg"]
    assert by_name["a.jpg"].rating == "4 stars" and by_name["b.jpg"].rating == "1 star"
    assert by_name["a.jpg"].mean == pytest.approx(score_from_stars(4), abs=0.05)
    assert [by_name[n].rating for n in ("d.jpg", "e.jpg", "f.jpg", "h.jpg")] == \
        ["reject", "pick", "reject", "pick"]
    assert by_name["i.jpg"].image == shoot / "day2" / "i.jpg"
    assert all(r.rater is None and r.image.is_absolute() for r in dataset.rows)
    (error,) = dataset.errors
    assert error.line == 0 and error.message.startswith("g.jpg.xmp: not valid XMP")
    assert "unrated" in describe_validation(dataset)


def test_xmp_impossible_rating_and_empty_folder(tmp_path):
    photo = jpeg(tmp_path / "a.jpg")
    digikam(photo, rating=9)
    dataset = read_xmp_folder(tmp_path)
    assert dataset.errors[0].message == "a.jpg.xmp: rating 9 is not from -1 to 5"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no photos"):
        load_dataset(empty)


# --- formats and the report -----------------------------------------------------------


def test_load_dataset_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nothing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n")
    with pytest.raises(DataError, match="empty"):
        load_dataset(empty)
    odd = tmp_path / "ratings.xlsx"
    odd.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="cannot tell the dataset format"):
        load_dataset(odd)
    with pytest.raises(DataError, match="unknown dataset format 'flickr'"):
        load_dataset(odd, "flickr")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("image,score\ncaf\xe9.jpg,5\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(latin)
    assert set(FORMATS) == {"ava", "xmp", "impressions", "artemis", "pccd", "csv", "jsonl"}


def test_a_named_format_overrides_detection(ava):
    assert load_dataset(ava, "ava").format == "ava"
    with pytest.raises(DataError, match="not critiques"):
        load_dataset(ava, "ava", kind="critique")


def test_describe_validation_counts_preview_and_capped_errors(tmp_path):
    jpeg(tmp_path / "a.jpg")
    lines = ["image,stars"] + ["a.jpg,4"] * 7 + ["a.jpg,9"] * 60
    path = tmp_path / "stars.csv"
    path.write_text("\n".join(lines) + "\n")
    report = describe_validation(load_dataset(path))
    assert "7 good rows (1 image) of 67 lines read; 60 errors" in report
    assert report.count("a.jpg  4 stars, mean 7.7") == 5  # the 5-row preview
    assert "stars.csv line 9: stars must be a whole number from 1 to 5, not 9" in report
    assert "stars.csv line 58:" in report and "stars.csv line 59:" not in report
    assert report.rstrip().endswith("… and 10 more")


# --- split ----------------------------------------------------------------------------


def _rows(n_images: int, per_image: int) -> list[ScoreRow]:
    d = distribution_from_score(5)
    return [ScoreRow(Path(f"/data/style{i % 3}/img{i}.jpg"), d, i * per_image + k + 1)
            for i in range(n_images) for k in range(per_image)]


def test_split_is_deterministic_without_leakage():
    rows = _rows(200, 3)
    train, val = split_rows(rows, 0.1, seed=0)
    assert len(train) + len(val) == len(rows)
    assert not {r.image for r in train} & {r.image for r in val}
    assert 55 <= len(val) <= 66  # whole images: ~10 % of the rows
    assert (train, val) == split_rows(rows, 0.1, seed=0)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    _, val_shuffled = split_rows(shuffled, 0.1, seed=0)
    assert {r.line for r in val_shuffled} == {r.line for r in val}
    _, other = split_rows(rows, 0.1, seed=1)
    assert {r.image for r in other} != {r.image for r in val}
    assert [r.line for r in val] == sorted(r.line for r in val)  # rows keep their order


def test_split_edges():
    rows = _rows(5, 2)
    assert split_rows(rows, 0) == (rows, [])
    train, val = split_rows(rows, 0.01)
    assert len({r.image for r in val}) == 1 and len(train) == 8
    one = _rows(1, 4)
    assert split_rows(one, 0.5) == (one, [])  # never every image in validation
    for bad in (-0.1, 1, math.nan):
        with pytest.raises(ValueError):
            split_rows(rows, bad)
