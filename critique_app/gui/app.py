"""Starting the desktop app: ``critique gui [PATH]`` or ``critique`` alone."""

from __future__ import annotations

import sys
from pathlib import Path


def run(path: Path | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from critique_app.gui.main_window import MainWindow
    from critique_app.gui.settings import load_settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Critique")
    app.setOrganizationName("Critique")
    settings = load_settings()
    window = MainWindow(settings)
    window.show()
    if settings.warning:
        window.show_status(settings.warning)
    if path is not None:
        window.open_path(Path(path))
    return app.exec()
