"""Opening 24 MP JPEGs in the real window (offscreen): first pixels, overlays, UI stalls.

For each photo, prints the time from "open" to the first pixels on screen, to
the blur and saliency overlays, to the full-resolution upgrade, and the
longest gap of a 10 ms UI-thread timer meanwhile; the baseline, measured in
the same run, is a plain full-resolution Pillow decode of the same file.
Targets on 2 CPU cores: first pixels < 200 ms, overlays < 1 s, no stall > 100 ms.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--width 6000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))
from bench_analyze import best_of, full_decode, make_big_jpegs
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from critique_app.core.app.settings import Settings
from critique_app.gui.main_window import MainWindow


def open_and_measure(app, window, path: Path, timeout: float = 30.0) -> dict[str, float]:
    page = window.photo_page
    marks: dict[str, float] = {}
    ticks: list[float] = []
    page.milestone.connect(lambda name, seconds: marks.setdefault(name, seconds))
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    window.open_path(path)
    end = time.perf_counter() + timeout
    while "full quality" not in marks and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    page.milestone.disconnect()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    marks["longest stall"] = max(gaps, default=0.0)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=6000, help="6000 x 4000 = 24 MP")
    args = parser.parse_args()
    os.environ.setdefault("CRITIQUE_HOME", tempfile.mkdtemp(prefix="critique-bench-"))
    folder = Path(tempfile.mkdtemp(prefix="critique-gui-bench-"))
    photos = make_big_jpegs(folder, args.width, grain=6.0)
    app = QApplication([])
    window = MainWindow(Settings(auto_critique=False), settings_path=folder / "settings.json")
    window.resize(1320, 860)
    window.show()
    app.processEvents()
    open_and_measure(app, window, photos[0])  # warm-up: imports, thread pool, caches
    for path in photos:
        decode = best_of(full_decode, path, 2)[0]
        marks = open_and_measure(app, window, path)
        print(f"{path.name}: full Pillow decode {decode * 1000:.0f} ms | first pixels "
              f"{marks['first pixels'] * 1000:.0f} ms ({marks['first pixels'] / decode:.2f}x "
              f"decode) | overlays {marks['overlays'] * 1000:.0f} ms | full quality "
              f"{marks['full quality'] * 1000:.0f} ms | longest UI stall "
              f"{marks['longest stall'] * 1000:.0f} ms")
    print("targets: first pixels < 200 ms, overlays < 1000 ms, stall < 100 ms")
    window.close()


if __name__ == "__main__":
    main()
