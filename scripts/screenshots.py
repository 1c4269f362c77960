"""Render the README's screenshots of the real window, offscreen, to docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

Uses the sample photos and whatever models are installed in a throw-away
CRITIQUE_HOME (none by default: the pictures show the no-model states, the
rule-based critique and the batch table; pass --home to use a real one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_until(app, condition, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not condition() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--home", type=Path, default=None, help="CRITIQUE_HOME to use")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["CRITIQUE_HOME"] = str(args.home or tempfile.mkdtemp(prefix="critique-shots-"))
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from critique_app.gui.main_window import MainWindow
    from critique_app.gui.models_dialog import ModelsDialog
    from critique_app.gui.settings import Settings

    app = QApplication([])
    window = MainWindow(Settings(), settings_path=Path(os.environ["CRITIQUE_HOME"]) / "s.json")
    window.resize(1320, 860)
    window.show()
    page = window.photo_page

    window.open_path(SAMPLES / "chelsea.jpg")
    wait_until(app, lambda: "Suggestions" in page.critique.plain_text())
    for overlay in ("none", "saliency", "blur", "depth"):
        page.overlays.set_current(overlay)
        settle(app, 0.3)
        window.grab().save(str(args.out / f"photo-{overlay}.png"))
    page.overlays.set_current("saliency")
    page.tabs.setCurrentWidget(page.measurements)
    settle(app, 0.3)
    window.grab().save(str(args.out / "measurements.png"))
    page.tabs.setCurrentWidget(page.critique)
    if args.home:  # a real store may hold a language model: show a critique mid-stream
        page.start_critique()
        wait_until(app, lambda: len(page.critique.plain_text()) > 700
                   or not page.critique.is_running(), timeout=180)
        window.grab().save(str(args.out / "critique-streaming.png"))
        page.stop_critique()

    folder = Path(tempfile.mkdtemp(prefix="critique-shoot-"))
    for photo in SAMPLES.iterdir():
        shutil.copy(photo, folder / photo.name)
    (folder / "DSC_0042.jpg").write_bytes(b"truncated")
    window.open_path(folder)
    window.score_folder()
    wait_until(app, lambda: not window.batch.is_running and window.batch.rows())
    settle(app, 0.3)
    window.grab().save(str(args.out / "batch.png"))

    dialog = ModelsDialog(window.bridge, parent=window)
    dialog.resize(760, 440)
    dialog.show()
    settle(app, 0.5)
    dialog.grab().save(str(args.out / "models.png"))
    dialog.close()
    window.close()
    print(f"screenshots written to {args.out}")


if __name__ == "__main__":
    main()
