"""Ranking the frames of a group: real-photo bursts for sharpness and exposure (their real
facts), synthetic facts for eyes, faces and scores (no packaged photo has closed eyes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critique_app.core.culling.grouping import group_frames
from critique_app.core.culling.ranking import rank_groups
from critique_app.core.culling.verdicts import FLAGS, Group
from tests.helpers.bursts import (
    add_bracket,
    add_burst,
    add_single,
    facts_of,
    fake_face,
    fake_frame,
    new_shoot,
)


def culled(paths) -> tuple[list[dict], list[Group], dict[str, object]]:
    frames = [facts_of(p) for p in paths]
    groups = group_frames(frames)
    verdicts = rank_groups(frames, groups)
    return frames, groups, {Path(frames[v.index]["path"]).name: v for v in verdicts}


def one_group(frames: list[dict]) -> list:
    return rank_groups(frames, [Group("burst", tuple(range(len(frames))), "test")])


@pytest.mark.parametrize(("name", "roles"), [
    ("chelsea", ("shaken", "defocused", "sharp", "shaken", "defocused")),
    ("coffee", ("sharp", "shaken", "defocused", "shaken")),
])
def test_the_sharp_frame_ranks_first_and_blurred_ones_are_flagged(tmp_path, name, roles):
    shoot = new_shoot(tmp_path)
    names = add_burst(shoot, name, roles=roles, seed=len(roles))
    _, groups, verdicts = culled(shoot.paths)
    assert len(groups) == 1
    sharp = names[roles.index("sharp")]
    assert verdicts[sharp].rank == 1 and verdicts[sharp].best
    assert verdicts[sharp].flags == ()
    assert "sharpest subject of the" in " ".join(verdicts[sharp].reasons)
    for file, role in zip(names, roles, strict=True):
        if role != "sharp":
            assert "subject-blur" in verdicts[file].flags
            assert any(r.startswith("subject blurred: ") and r.endswith(f"as sharp as in {sharp}")
                       for r in verdicts[file].reasons)
    assert sorted(v.rank for v in verdicts.values()) == list(range(1, len(roles) + 1))


def test_exposure_is_judged_against_the_group_not_absolute(tmp_path):
    shoot = new_shoot(tmp_path)
    add_burst(shoot, "chelsea", roles=("sharp",) * 4, seed=1, exposure={2: 0.25})
    shoot.wait(120)
    night = add_burst(shoot, "coffee", roles=("sharp",) * 4, seed=2,
                      exposure=dict.fromkeys(range(4), 0.25))
    frames, groups, verdicts = culled(shoot.paths)
    assert len(groups) == 2
    dark = verdicts["IMG_0003.jpg"]
    assert "underexposed" in dark.flags and not dark.best
    # the other three are sharp twins: which of them ranks third is down to noise
    third = next(n for n, v in verdicts.items() if v.group == dark.group and v.rank == 3)
    assert dark.reasons[0] == f"rank 4 of 4: flagged underexposed, unlike {third}"
    (words,) = [r for r in dark.reasons if r.startswith("underexposed: ")]
    assert words.endswith(" EV darker than the group's median")
    assert 1.7 <= float(words.split()[1]) <= 2.1
    flagged = {n: v.flags for n, v in verdicts.items() if v.flags}
    assert flagged == {"IMG_0003.jpg": ("underexposed",)}
    assert all(frames[i]["exposure"]["ev"] < -1.5 for i in groups[1].members)  # really dark
    assert all(not verdicts[n].flags for n in night)


def test_a_bracket_marks_its_0_ev_frame_and_flags_nothing(tmp_path):
    shoot = new_shoot(tmp_path)
    names = add_bracket(shoot, "astronaut", evs=(-2.0, 0.0, 2.0))
    _, groups, verdicts = culled(shoot.paths)
    assert groups[0].kind == "bracket"
    assert verdicts[names[1]].best and verdicts[names[1]].rank == 1
    assert all(v.flags == () for v in verdicts.values())
    assert "kept whole" in " ".join(verdicts[names[0]].reasons)


def test_a_single_is_best_and_flagged_only_when_clearly_blurred(tmp_path):
    shoot = new_shoot(tmp_path)
    add_single(shoot, "astronaut")
    shoot.wait(60)
    add_single(shoot, "astronaut", role="defocused")
    _, groups, verdicts = culled(shoot.paths)
    assert [g.kind for g in groups] == ["single", "single"]
    crisp, soft = verdicts["IMG_0001.jpg"], verdicts["IMG_0002.jpg"]
    assert crisp.best and crisp.rank == 1 and crisp.flags == ()
    assert soft.best and soft.flags == ("subject-blur",)
    assert any(r.startswith("clearly blurred: nothing in the frame is sharp") for r in soft.reasons)


def test_closed_eyes_are_flagged_against_the_same_persons_open_eyes():
    frames = [fake_frame(k, faces=[fake_face(0.3)]) for k in range(4)]
    frames[2] = fake_frame(2, faces=[fake_face(0.05)], sharp=0.6)
    verdicts = one_group(frames)
    blink = verdicts[2]
    assert blink.flags == ("eyes-closed",) and not blink.best
    assert "eyes closed (openness 0.05 vs 0.30 in IMG_0000.jpg)" in blink.reasons
    assert blink.rank == 4  # the sharpest frame, but a blink ruins it
    assert all(v.flags == () for v in verdicts if v.index != 2)


def test_a_half_blink_under_0_6_of_the_widest_is_flagged_and_a_squint_is_not():
    frames = [fake_frame(0, faces=[fake_face(0.3)]), fake_frame(1, faces=[fake_face(0.17)]),
              fake_frame(2, faces=[fake_face(0.2)])]
    verdicts = one_group(frames)
    assert verdicts[1].flags == ("eyes-closed",)  # 0.57 of open: the lids half down
    assert verdicts[2].flags == () and verdicts[0].best  # 0.67 of open


def test_a_frame_a_hair_less_sharp_never_reads_100_percent_as_sharp():
    frames = [fake_frame(0, sharp=0.5), fake_frame(1, sharp=0.4985)]
    verdicts = one_group(frames)
    assert verdicts[0].best
    assert "subject 99.7% as sharp as in IMG_0000.jpg" in verdicts[1].reasons

def test_a_blink_is_matched_to_the_right_person():
    def faces(left, right):
        return [fake_face(left, box=(0.1, 0.3, 0.3, 0.6)),
                fake_face(right, box=(0.6, 0.3, 0.8, 0.6))]
    frames = [fake_frame(0, faces=faces(0.3, 0.25)), fake_frame(1, faces=faces(0.3, 0.05)),
              fake_frame(2, faces=faces(0.28, 0.26))]
    verdicts = one_group(frames)
    assert verdicts[1].flags == ("eyes-closed",)
    words = "eyes closed (person 2 from the left: openness 0.05 vs 0.26 in IMG_0002.jpg)"
    assert words in verdicts[1].reasons
    assert verdicts[0].best


def test_eyes_of_small_faces_are_unknown_with_the_reason():
    why = "eye 9 px wide: too small to tell"
    frames = [fake_frame(k, faces=[fake_face(None, box=(0.5, 0.5, 0.53, 0.55), why=why)])
              for k in range(3)]
    verdicts = one_group(frames)
    assert all(v.flags == ("eyes-unknown",) for v in verdicts)
    assert f"eyes: can't tell ({why})" in verdicts[0].reasons


def test_haar_faces_are_not_flagged_for_eyes_it_cannot_measure():
    why = "eye found by a Haar cascade: openness not measured"
    frames = [fake_frame(k, faces=[fake_face(None, why=why)]) for k in range(3)]
    for frame in frames:
        frame["faces"]["method"] = "haar"
    verdicts = one_group(frames)
    assert all("eyes-unknown" not in v.flags for v in verdicts)
    assert "eyes not checked (OpenCV's Haar cascades cannot measure them)" in verdicts[0].reasons


def test_face_sharpness_decides_before_the_frame_and_score_breaks_ties():
    frames = [fake_frame(0, faces=[fake_face(0.3, sharpness=0.2)], sharp=0.6, score=7.0),
              fake_frame(1, faces=[fake_face(0.3, sharpness=0.5)], sharp=0.3, score=5.0),
              fake_frame(2, faces=[fake_face(0.3, sharpness=0.5)], sharp=0.3, score=6.0)]
    verdicts = one_group(frames)
    assert [v.rank for v in verdicts] == [3, 2, 1]
    assert verdicts[0].flags == ("subject-blur",)
    assert "face blurred: 40% as sharp as in IMG_0001.jpg" in verdicts[0].reasons
    assert verdicts[2].reasons[0] == "best of 3: highest score"
    assert verdicts[1].reasons[0] == "rank 2 of 3: lower score than IMG_0002.jpg"
    assert "score 6.00" in verdicts[2].reasons
    assert "score 7.00 (the group's highest)" in verdicts[0].reasons


def test_equal_frames_rank_in_capture_order():
    verdicts = one_group([fake_frame(k) for k in range(3)])
    assert [v.rank for v in verdicts] == [1, 2, 3]
    assert verdicts[0].reasons[0] == "best of 3: as good as the next, shot first"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 0.8), st.floats(-3, 3),
                          st.one_of(st.none(), st.floats(0.0, 0.4)),
                          st.one_of(st.none(), st.floats(1, 10))), min_size=1, max_size=9),
       st.integers(1, 4))
def test_ranks_are_1_to_n_with_one_best_per_group(spec, cut):
    frames = [fake_frame(k, sharp=s, ev=ev, score=score,
                         faces=[fake_face(eye)] if eye is not None else None)
              for k, (s, ev, eye, score) in enumerate(spec)]
    members = list(range(len(frames)))
    groups = [Group("burst", tuple(members[:cut]), "a"), Group("burst", tuple(members[cut:]), "b")]
    groups = [g for g in groups if g.members]
    verdicts = rank_groups(frames, groups)
    assert [v.index for v in verdicts] == members
    for number, group in enumerate(groups):
        mine = [v for v in verdicts if v.group == number]
        assert sorted(v.rank for v in mine) == list(range(1, len(group.members) + 1))
        assert sum(v.best for v in mine) == 1 and all(v.best == (v.rank == 1) for v in mine)
        assert all(set(v.flags) <= set(FLAGS) and v.reasons for v in mine)
