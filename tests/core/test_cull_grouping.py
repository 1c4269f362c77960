"""Grouping frames of one moment: real packaged photos made into bursts, brackets,
panoramas and focus stacks (tests/helpers/bursts.py), their real culling facts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critique_app.core.culling.grouping import group_frames
from critique_app.core.culling.ranking import rank_groups
from critique_app.core.culling.verdicts import GROUP_KINDS
from tests.helpers.bursts import (
    add_bracket,
    add_burst,
    add_focus_stack,
    add_panorama,
    add_single,
    facts_of,
    fake_frame,
    new_shoot,
    stripped_copy,
    two_scenes_and_a_single,
)


def grouped(shoot) -> tuple[list[list[str]], list]:
    frames = [facts_of(p) for p in shoot.paths]
    groups = group_frames(frames)
    return [[Path(frames[i]["path"]).name for i in g.members] for g in groups], groups


@pytest.fixture(scope="module")
def shoot(tmp_path_factory):
    return two_scenes_and_a_single(tmp_path_factory.mktemp("shoot"))


def test_two_bursts_minutes_apart_and_a_single(shoot):
    names, groups = grouped(shoot)
    assert names == shoot.groups
    assert [g.kind for g in groups] == ["burst", "burst", "single"]
    assert groups[0].why.startswith("5 frames within 1.5 s, near-identical")
    assert "nothing else shot within 2 s" in groups[2].why
    assert not any(g.keep_whole for g in groups)


def test_the_same_shoot_stripped_of_metadata_groups_the_same(shoot, tmp_path):
    copy = stripped_copy(shoot, tmp_path / "stripped")
    frames = [facts_of(p) for p in copy.paths]
    assert {f["exif_time"] for f in frames} == {None}
    assert len({f["file_time"] for f in frames}) == 1
    names, groups = grouped(copy)
    assert names == shoot.groups
    assert "no capture times: joined by look" in groups[0].why


def test_two_subjects_shot_a_moment_apart_are_two_groups(tmp_path):
    shoot = new_shoot(tmp_path)
    add_burst(shoot, "flower", roles=("sharp", "shaken", "sharp"), seed=3)
    shoot.wait(0.3)
    add_burst(shoot, "rocket", roles=("sharp", "defocused", "sharp"), seed=4)
    shoot.wait(0.3)
    add_single(shoot, "chelsea")
    shoot.wait(0.3)
    add_single(shoot, "coffee")
    names, groups = grouped(shoot)
    assert names == shoot.groups
    assert [g.kind for g in groups] == ["burst", "burst", "single", "single"]
    assert "0.3 s from IMG_0007.jpg but a different view" in groups[3].why


def test_an_exposure_bracket_is_one_group_kept_whole(tmp_path):
    shoot = new_shoot(tmp_path / "raw")
    add_bracket(shoot, "astronaut", evs=(0.0, -2.0, 2.0))
    shoot.wait(30)
    add_bracket(shoot, "coffee", evs=(-2.0, -1.0, 0.0, 1.0, 2.0), spacing_s=0.4)
    shoot.wait(30)
    add_burst(shoot, "chelsea", roles=("sharp", "sharp", "sharp"))
    names, groups = grouped(shoot)
    assert names == shoot.groups
    assert [(g.kind, g.keep_whole) for g in groups] == [
        ("bracket", True), ("bracket", True), ("burst", False)]
    assert groups[0].why == "3 frames bracketed -2/0/+2 EV: kept whole"
    assert groups[1].why == "5 frames bracketed -2/-1/0/+1/+2 EV: kept whole"
    # stripped of its bias tags, the bracket still shows in the measured brightness
    names, groups = grouped(stripped_copy(shoot, tmp_path / "stripped"))
    assert names == shoot.groups
    assert [g.kind for g in groups] == ["bracket", "bracket", "burst"]
    assert "no bias recorded" in groups[0].why


def test_a_panorama_and_a_focus_stack_are_kept_whole(tmp_path):
    shoot = new_shoot(tmp_path)
    add_panorama(shoot, "china")
    shoot.wait(60)
    add_focus_stack(shoot, "coffee")
    shoot.wait(60)
    add_panorama(shoot, "astronaut", frames=4, width=0.4, step=0.2)
    shoot.wait(60)
    add_burst(shoot, "chelsea")
    names, groups = grouped(shoot)
    assert names == shoot.groups
    assert [(g.kind, g.keep_whole) for g in groups] == [
        ("panorama", True), ("focus-stack", True), ("panorama", True), ("burst", False)]
    assert "the camera panned" in groups[0].why
    assert "sharp zone moving top to bottom" in groups[1].why


def test_a_burst_never_spans_two_cameras():
    frames = [fake_frame(k) for k in range(6)]
    for frame in frames[3:]:
        frame["camera"] = "Nikon Z 6"
    groups = group_frames(frames)
    assert [g.members for g in groups] == [(0, 1, 2), (3, 4, 5)]


def test_without_times_look_joins_only_near_neighbours(shoot):
    """The same scene again after four other frames is a new group, not one super-cluster."""
    cat = [facts_of(p) for p in shoot.paths[:5]]
    cup = [facts_of(p) for p in shoot.paths[5:9]]
    frames = [dict(f, exif_time=None) for f in cat[:2] + cup + cat[2:4]]
    groups = group_frames(frames)
    assert [g.members for g in groups] == [(0, 1), (2, 3, 4, 5), (6, 7)]


def test_capture_order_wins_over_file_order():
    frames = [fake_frame(k) for k in (2, 0, 1)]
    (group,) = group_frames(frames)
    assert group.members == (1, 2, 0)


def test_embeddings_join_a_moving_subject_within_a_time_run():
    """Pixels changed (hash and thumb abstain) but the backbone sees the same scene."""
    frames = [fake_frame(k) for k in range(3)]
    frames[2]["phash"] = "5a5aa5a5a5a5a5a5"  # 16 bits off: between "same" and "different"
    frames[2]["thumb"] = [0.6 * a + 0.8 * b for a, b in
                          zip(frames[0]["thumb"], frames[0]["thumb"][::-1], strict=True)]
    assert [g.members for g in group_frames(frames)] == [(0, 1), (2,)]
    for frame in frames:
        frame["embedding"] = [0.6, 0.8]
    assert [g.members for g in group_frames(frames)] == [(0, 1, 2)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, 0.0, 0.4, 1.0, 30.0]), st.integers(0, 2),
                          st.sampled_from([None, -2.0, 0.0, 2.0])), min_size=1, max_size=14))
def test_every_frame_lands_in_exactly_one_group(spec):
    frames, clock = [], 1000.0
    for k, (gap, scene, bias) in enumerate(spec):
        frame = fake_frame(k, bias=bias)
        clock += gap or 0.0
        frame["exif_time"] = None if gap is None else clock
        frame["phash"] = ["a5a5a5a5a5a5a5a5", "5a5a5a5a5a5a5a5a", "ff00ff00ff00ff00"][scene]
        frame["thumb"] = [v * (1 if scene != 1 else -1) for v in frame["thumb"]]
        frames.append(frame)
    groups = group_frames(frames)
    members = [i for g in groups for i in g.members]
    assert sorted(members) == list(range(len(frames)))
    for g in groups:
        assert g.kind in GROUP_KINDS and g.why
        assert (g.kind == "single") == (len(g.members) == 1)
        assert g.keep_whole == (g.kind in ("bracket", "panorama", "focus-stack"))
    verdicts = rank_groups(frames, groups)
    assert [v.index for v in verdicts] == list(range(len(frames)))
    for number, g in enumerate(groups):
        ranks = sorted((v.rank, v.best) for v in verdicts if v.group == number)
        assert ranks == [(r, r == 1) for r in range(1, len(g.members) + 1)]
        if g.keep_whole:
            assert all(not v.flags for v in verdicts if v.group == number)
