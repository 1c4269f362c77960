"""Faces and eyes in a photo: MediaPipe face models run with LiteRT, or OpenCV Haar cascades.

``read_faces(rgb, find_face_models())`` gives each face's box and, with the
``mediapipe-face`` models installed, how open each eye is (from the iris model's
eyelid contour); without them, OpenCV's Haar cascades find faces and eyes and the
reading's note says so. Eyes too small, turned or unclear are "can't tell"
(``visible=False`` with the reason), never guessed.
"""

from critique_app.core.faces.eyes import eye_openness
from critique_app.core.faces.litert import STORE_NAME, FaceModels
from critique_app.core.faces.models import find_face_models
from critique_app.core.faces.reading import Eye, Face, FaceReading, read_faces

__all__ = ["STORE_NAME", "Eye", "Face", "FaceModels", "FaceReading", "eye_openness",
           "find_face_models", "read_faces"]
