"""The colour-moment cue of culling's look vote, on real bursts (tests/helpers/bursts.py)."""

from __future__ import annotations

import itertools

import pytest

from critique_app.core.culling.look import COLOUR_DIFFERENT, COLOUR_SAME, colour_distance, likeness
from tests.helpers.bursts import add_burst, facts_of, new_shoot

SCENES = ("chelsea", "coffee", "rocket", "astronaut", "china", "flower")


@pytest.fixture(scope="module")
def bursts(tmp_path_factory):
    """Each scene as a burst of a sharp frame, shaken and defocused twins and one frame
    1 EV darker, minutes apart: name -> the frames' facts."""
    shoot = new_shoot(tmp_path_factory.mktemp("colour"))
    out = {}
    for seed, name in enumerate(SCENES, start=1):
        names = add_burst(shoot, name, ("shaken", "sharp", "defocused", "shaken", "sharp"),
                          seed=seed, exposure={4: 0.5})
        out[name] = [facts_of(shoot.folder / n) for n in names]
        shoot.wait(180)
    return out


def test_the_facts_keep_the_small_colour_moments(bursts):
    for frames in bursts.values():
        for facts in frames:
            assert sum(1 for v in facts["colour"] if v != 0.0) >= 40, facts["colour"]


def test_colour_votes_same_within_a_burst(bursts):
    for name, frames in bursts.items():
        for a, b in itertools.combinations(frames, 2):
            value = colour_distance(a["colour"], b["colour"])
            assert value is not None and value <= COLOUR_SAME, (name, value)


def test_colour_votes_different_between_scenes(bursts):
    print()
    for first, second in itertools.combinations(SCENES, 2):
        values = [colour_distance(a["colour"], b["colour"])
                  for a in bursts[first] for b in bursts[second]]
        assert None not in values and min(values) >= COLOUR_DIFFERENT, (first, second, values)
        print(f"{first:9s} {second:9s} colour distance {min(values):.2f}-{max(values):.2f}")


def test_rounded_away_moments_do_not_vote(bursts):
    frame = bursts["coffee"][0]
    old = [round(v, 4) for v in frame["colour"]]  # what frame-facts-1 stored
    assert colour_distance(old, old) is None
    assert likeness({**frame, "colour": old}, {**frame, "colour": old}).colour is None
