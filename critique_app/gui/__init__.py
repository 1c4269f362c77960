"""The PySide6 desktop app: a shell over the Qt-free core."""
