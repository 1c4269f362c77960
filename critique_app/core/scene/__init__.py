"""What kind of photo this is and the light it was taken in, with the evidence: ImageNet
labels, measurements and EXIF."""

from critique_app.core.scene.kinds import ACTS_ON, KINDS, LIGHTS, Scene, SceneCue, SceneKind
from critique_app.core.scene.recognise import recognise_scene, scene_for

__all__ = ["ACTS_ON", "KINDS", "LIGHTS", "Scene", "SceneCue", "SceneKind", "recognise_scene",
           "scene_for"]
