"""A burst with a blink, culled with the real MediaPipe face models end to end: faces, the
iris model's eyelids, the same person across frames, the flag and the pick.

No packaged photo has a real blink; the blink is the astronaut's eyes painted shut
(tests/helpers/face_models.eyes_painted_shut), the nearest this repository can make.
"""

from __future__ import annotations

import pytest

from critique_app.core.culling.cull import decide
from critique_app.core.culling.runner import cull_photos
from critique_app.core.culling.verdicts import CulledPhoto
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.scoring.scorer import ScorerSet
from tests.helpers.bursts import new_shoot, photo, shifted, with_noise
from tests.helpers.face_models import eyes_painted_shut, pull_face_models


@pytest.fixture(scope="module")
def face_models(tmp_path_factory):
    return pull_face_models(tmp_path_factory.mktemp("face-store"))


def test_a_blink_in_a_burst_is_flagged_and_never_the_pick(face_models, tmp_path):
    astronaut = photo("astronaut")
    shoot = new_shoot(tmp_path / "shoot")
    frames = (astronaut, eyes_painted_shut(astronaut, face_models), shifted(astronaut, 2, 1))
    for i, frame in enumerate(frames):
        if i:
            shoot.wait(0.3)
        shoot.write(with_noise(frame, i), "blink" if i == 1 else "open")
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        facts = cull_photos(shoot.paths, cache=cache, scorers=ScorerSet({}),
                            face_models=face_models)
    assert facts.face_method == "mediapipe"
    result = decide([CulledPhoto(path, facts=found)
                     for path, found in zip(facts.paths, facts.facts, strict=True)])
    assert [len(group.members) for group in result.groups] == [3]
    blink, *opened = (result.photos[1], result.photos[0], result.photos[2])
    assert "eyes-closed" in blink.verdict.flags and not blink.verdict.best
    why = next(r for r in blink.verdict.reasons if r.startswith("eyes closed"))
    assert "openness 0.1" in why and "vs 0.2" in why  # e.g. 0.12 vs 0.25 in IMG_0003.jpg
    assert blink.verdict.rank == 3
    assert all("eyes-closed" not in p.verdict.flags for p in opened)
    assert any(p.verdict.best for p in opened)
