"""Starting the desktop app: ``critique gui [PATH]`` or ``critique`` alone."""

from __future__ import annotations

import sys
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from critique_app.gui import platform_check


def run(path: Path | None = None) -> int:
    if not _qt_application_exists():
        # Qt aborts the process when its platform plugin cannot load; say why first.
        problem = platform_check.display_problem()
        if problem is not None:
            raise CritiqueError(problem)
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as error:
        message = platform_check.import_failure_message(error)
        if message is None:
            raise
        raise CritiqueError(message) from None

    from critique_app.core.app.settings import load_settings
    from critique_app.gui.main_window import MainWindow

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


def _qt_application_exists() -> bool:
    core = sys.modules.get("PySide6.QtCore")
    return core is not None and core.QCoreApplication.instance() is not None
