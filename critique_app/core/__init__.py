"""The Qt-free core: loading photos, modality maps, measurements.

Nothing here imports Qt or the shells (CLI, GUI); an import-linter contract in
the test run enforces it. Slow work takes a ``threading.Event`` to cancel.
"""
