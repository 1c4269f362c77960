"""The scene of an analysed photo, from its ImageNet labels, measurements and EXIF.

:func:`recognise_scene` weighs each kind's cues (rules_light, rules_subject); every
threshold is a named constant with the reason for its value. :func:`scene_for` is the
one way the app gets a scene: it reads the labels through the same cache the critique
uses, so the classifier runs once per photo.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import replace

from critique_app.core.photo.decoded import ExifSummary
from critique_app.core.scene import rules_light, rules_subject
from critique_app.core.scene.cues import Cues, measure_cues
from critique_app.core.scene.evidence import Evidence
from critique_app.core.scene.exif_light import exif_light
from critique_app.core.scene.kinds import ACTS_ON, NO_LABELS, Scene, SceneCue
from critique_app.core.scene.reading import Reading

log = logging.getLogger(__name__)
SHOWN = 0.2  # kinds under this confidence are left out of the scene
# A kind that had this much support before counter-evidence is reported as ruled out
RULED_OUT = 0.25
_RECENT = 4  # photos whose cues are remembered
_recent: list[tuple[weakref.ref, tuple | None, Cues]] = []
_lock = threading.Lock()


def recognise_scene(analysis, labels: list[tuple[str, float]] | None,
                    exif: ExifSummary | None = None) -> Scene:
    """The scene of ``analysis`` (an :class:`Analysis`). ``labels``: the classifier's top
    (name, probability) pairs, or None / [] when it is not installed; ``exif``: defaults
    to the photo's own."""
    exif = exif if exif is not None else analysis.photo.exif
    cues = _cues(analysis.photo.pixels, analysis.measurements.get("subject.box"))
    reading = Reading(cues, analysis.measurements, tuple(labels or ()), exif,
                      exif_light(exif))
    return _scene(reading, labels_known=bool(labels))


def scene_for(analysis, store=None) -> Scene:
    """The scene with the labels of the installed classifier (none when not installed)."""
    from critique_app.core.scene.labels import imagenet_labels
    from critique_app.core.store.store import ModelStore

    try:
        # the critique's own call (its default top labels): one scene, in the tab and the text
        labels = imagenet_labels(analysis.photo.pixels, store or ModelStore())
    except Exception as error:  # damaged weights: the scene goes on without labels
        log.warning("the ImageNet classifier failed", exc_info=True)
        cause = f"{type(error).__name__}: {error}".splitlines()[0][:120]
        return replace(recognise_scene(analysis, None),
                       note=f"no ImageNet labels: the classifier failed ({cause}); the scene "
                            "was read from the measurements and EXIF alone")
    return recognise_scene(analysis, labels or None)


def _cues(pixels, box) -> Cues:
    """The cues of a pixel array, measured once: the Measurements tab and the critique
    both ask for the scene of the same photo."""
    box = tuple(box) if box else None
    with _lock:
        for ref, known_box, cues in _recent:
            if ref() is pixels and known_box == box:
                return cues
    cues = measure_cues(pixels, box)
    with _lock:
        _recent[:] = [entry for entry in _recent if entry[0]() is not None][-(_RECENT - 1):]
        _recent.append((weakref.ref(pixels), box, cues))
    return cues


def _scene(r: Reading, *, labels_known: bool) -> Scene:
    dark = [rules_light.night(r), rules_light.blue_hour(r), rules_light.astro(r)]
    night_like = any(e.confidence >= ACTS_ON for e in dark)
    lit, silhouette = rules_light.backlit(r)
    evidence = [*dark, rules_light.low_key(r, night_like), rules_light.high_key(r), lit,
                silhouette, rules_light.intentional_motion(r), rules_subject.portrait(r),
                rules_subject.still_life(r), rules_subject.macro(r), rules_subject.street(r),
                rules_subject.landscape(r), rules_subject.architecture(r)]
    kinds = sorted((e.kind() for e in evidence if e.confidence >= SHOWN),
                   key=lambda k: -k.confidence)
    light, light_cues = _light(r, {e.name: e for e in evidence})
    return Scene(tuple(kinds), light, light_cues, _against(r, evidence),
                 r.labels if labels_known else None, None if labels_known else NO_LABELS)


def _light(r: Reading, evidence: dict[str, Evidence]) -> tuple[str | None, tuple[SceneCue, ...]]:
    """The light named by the most confident light kind, else by the sky, EXIF or flash."""
    for kind, light in (("blue-hour", "blue hour"), ("astro", "night"), ("night", "night"),
                        ("silhouette", "backlit"), ("backlit", "backlit"),
                        ("low-key", "low-key"), ("high-key", "high-key")):
        if evidence[kind].confidence >= ACTS_ON:
            return light, ()
    if r.exif.flash_fired:
        return "flash", (SceneCue("exif", "the flash fired"),)
    cues = []
    if r.daylight_sky:
        cues.append(SceneCue("measurements", r.sky_text("a bright, smooth sky")))
    if r.exif_daylight:
        cues.append(SceneCue("exif", r.exif_daylight_text()))
    return ("daylight", tuple(cues)) if cues else (None, ())


def _against(r: Reading, evidence: list[Evidence]) -> tuple[SceneCue, ...]:
    """Why kinds with real support were ruled out, and why a dark frame is not a dark scene."""
    against = []
    underexposed = r.underexposed and not r.exif_dim
    if underexposed and r.dark_frame:
        against.append(SceneCue("measurements", "not night, low-key or astro: "
                                + r.headroom_text()))
    for e in evidence:
        if e.support >= RULED_OUT and e.confidence < ACTS_ON:
            against += [SceneCue(cue.source, f"not {e.name}: {cue.text}")
                        for _, cue in e.counters
                        if not (underexposed and cue.text == r.headroom_text())]
    return tuple(against)
