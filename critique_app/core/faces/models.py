"""Finding the installed face models in the model store."""

from __future__ import annotations

from critique_app.core.faces.litert import STORE_NAME, FaceModels


def find_face_models(store=None) -> FaceModels | None:
    """The installed ``mediapipe-face`` models, or None when they are not installed
    (read_faces then falls back to Haar cascades and says so)."""
    if store is None:
        from critique_app.core.store.store import ModelStore

        store = ModelStore()
    folder = store.path(STORE_NAME)
    return FaceModels(folder) if folder is not None else None
