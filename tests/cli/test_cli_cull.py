"""``critique cull FOLDER``: real bursts, brackets and singles built from packaged photos
(tests/helpers/bursts.py), culled by the real command; sidecars read back as the
photo tools read them; the photos' bytes never change."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from critique_app.core.culling.columns import COLUMNS
from critique_app.core.library.ratings import read_photo_rating, set_stars
from tests.helpers.bursts import add_bracket, add_burst, add_single, new_shoot
from tests.helpers.photos import REPO_ROOT


def critique(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "critique_app", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"},
                          timeout=300, cwd=REPO_ROOT)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix != ".xmp"}


def _groups(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row["status"] == "ok":
            groups.setdefault(str(row["group"]), []).append(row)
    return groups


@pytest.fixture
def small(tmp_path):
    """A three-frame burst of the cat (the middle frame sharp) and a single."""
    shoot = new_shoot(tmp_path / "small")
    add_burst(shoot, "chelsea", roles=("shaken", "sharp", "defocused"))
    shoot.wait(120)
    add_single(shoot, "coffee")
    return shoot


@pytest.fixture
def shoot(tmp_path):
    """Two bursts minutes apart, an exposure bracket, a single, and a corrupt file."""
    shoot = new_shoot(tmp_path / "shoot")
    add_burst(shoot, "chelsea", seed=1)
    shoot.wait(180)
    add_burst(shoot, "coffee", roles=("sharp", "shaken", "defocused", "shaken"), seed=2)
    shoot.wait(200)
    add_bracket(shoot, "rocket")
    shoot.wait(240)
    add_single(shoot, "china")
    (shoot.folder / "IMG_9999.jpg").write_bytes(b"\xff\xd8 a truncated, broken JPEG")
    return shoot


# --- one-line errors --------------------------------------------------------------------


def test_an_empty_folder_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = critique("cull", tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'empty'}: no photos found (add --recursive to look in subfolders)"]


def test_a_missing_folder_is_one_line(tmp_path):
    result = critique("cull", tmp_path / "nowhere")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere'} is not a folder"


def test_reject_others_needs_xmp(tmp_path):
    result = critique("cull", tmp_path, "--reject-others")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "add --xmp" in result.stderr


def test_out_must_be_csv_or_json(tmp_path):
    result = critique("cull", tmp_path, "--out", tmp_path / "cull.txt")
    assert result.returncode == 2 and ".csv or .json" in result.stderr


# --- real culls -------------------------------------------------------------------------


def test_a_small_cull_prints_its_groups_and_picks_the_sharp_frame(small):
    result = critique("cull", small.folder)
    assert result.returncode == 0, result.stderr
    assert "★ pick" in result.stdout
    pick = next(line for line in result.stdout.splitlines() if "★ pick" in line
                and "burst" in line)
    assert small.paths[1].name in pick  # the sharp one
    assert "4 photos: 0 cached, 4 computed, 0 failed" in result.stdout
    assert "2 groups: 1 burst, 1 single" in result.stdout
    assert not list(small.folder.glob("*.xmp"))  # no --xmp: nothing written


@pytest.mark.slow
def test_csv_xmp_and_reject_others_on_a_shoot(shoot, tmp_path):
    rated = shoot.paths[6]  # a shaken frame of the coffee burst, rated by the photographer
    set_stars(rated, 2)
    before = _digests(shoot.folder)
    out = tmp_path / "cull.csv"
    result = critique("cull", shoot.folder, "--out", out, "--xmp", "--reject-others")
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == len(shoot.paths) + 1
    broken = [row for row in rows if row["status"] != "ok"]
    assert [Path(row["path"]).name for row in broken] == ["IMG_9999.jpg"]
    assert broken[0]["error"] and "\n" not in broken[0]["error"]
    assert "skipped" in result.stderr and "IMG_9999.jpg" in result.stderr

    groups = _groups(rows)
    named = sorted(sorted(Path(r["path"]).name for r in members) for members in groups.values())
    assert named == sorted(shoot.groups)
    by_name = {Path(row["path"]).name: row for row in rows}
    for members in groups.values():
        assert sum(row["best"] == "1" for row in members) == 1
        assert sorted(int(row["rank"]) for row in members) == list(range(1, len(members) + 1))
        assert all(row["group_size"] == str(len(members)) for row in members)
    assert by_name[shoot.paths[2].name]["best"] == "1"  # the cat burst's sharp frame
    bracket = shoot.groups[2]
    assert {by_name[name]["group_kind"] for name in bracket} == {"bracket"}

    ratings = {path.name: read_photo_rating(path) for path in shoot.paths}
    for members in groups.values():
        names = [Path(row["path"]).name for row in members]
        picks = [name for name in names if ratings[name].picked]
        assert picks == [next(Path(r["path"]).name for r in members if r["best"] == "1")]
    assert ratings[rated.name].stars == 2 and not ratings[rated.name].rejected
    assert not ratings[rated.name].picked
    for name in shoot.groups[0] + shoot.groups[1]:  # the bursts' others are rejected
        if by_name[name]["best"] == "0" and name != rated.name:
            assert ratings[name].rejected, name
    assert not any(ratings[name].rejected for name in bracket + shoot.groups[3])
    assert "kept on 1" in result.stdout
    assert _digests(shoot.folder) == before  # no photo written, moved or renamed

    again = critique("cull", shoot.folder, "--out", tmp_path / "cull.json", "--xmp")
    assert again.returncode == 0, again.stderr
    total = len(shoot.paths) + 1
    assert f"{total} photos: {total - 1} cached, 0 computed, 1 failed" in again.stdout
    data = json.loads((tmp_path / "cull.json").read_text())
    assert [list(row) for row in data] == [list(COLUMNS)] * total
    # without --reject-others the second run clears the first run's rejects
    assert not any(read_photo_rating(path).rejected for path in shoot.paths)
    assert read_photo_rating(rated).stars == 2
    assert _digests(shoot.folder) == before


def test_subfolders_only_with_recursive(small, tmp_path):
    parent = small.folder.parent
    flat = critique("cull", parent)
    assert flat.returncode == 2 and "add --recursive" in flat.stderr
    deep = critique("cull", parent, "--recursive", "--out", tmp_path / "cull.json")
    assert deep.returncode == 0, deep.stderr
    rows = json.loads((tmp_path / "cull.json").read_text())
    assert len(rows) == 4 and all(Path(row["path"]).parent == small.folder for row in rows)
