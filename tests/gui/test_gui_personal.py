"""Learn my taste on the photo page: the button counts the photographer's own ratings,
one click runs the real trainer (``python -m train personal`` without --base, its own
process) and installs the folder's personal model, whose score shows beside the general
one; Cancel stops the trainer and installs nothing; new ratings learn again.

The photos are real (crops of the test photos, sharp and blurred); the ratings follow a
learnable rule set with ``set_stars`` (sharp: 5 stars, blurred: 1), as a photographer's
tool writes them. Critique's automatic stars do not count.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from critique_app.core.app.settings import Settings, load_settings, save_settings
from critique_app.core.finetuning.personal import (
    MIN_RATINGS,
    PersonalInfo,
    install_personal,
    learned_folder_of_run,
    next_run_dir,
    personal_argv,
    personal_model_name,
    usable_rating,
)
from critique_app.core.finetuning.plan import FineTuningPlan
from critique_app.core.library.ratings import PhotoRating, set_stars
from critique_app.core.scoring.backbone import LITE0_STORE_NAME
from critique_app.core.store.store import ModelStore
from critique_app.gui.main_window import MainWindow
from tests.helpers.rating_tables import BLUR_RADII, blurred_crops

WAIT_MS = 30_000
TRAIN_MS = 180_000  # two busy CPU cores: features of ~30 photos, the fit, the ONNX check
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def stars_for(photo: Path) -> int:
    """The learnable rule: the sharper the crop, the more stars."""
    radius = float(photo.stem.rsplit("-", 1)[1])
    return 5 - BLUR_RADII.index(radius) * 4 // 5


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """36 crops: 6 test photos, each sharp and at five blur radii."""
    return blurred_crops(tmp_path_factory.mktemp("crops"), size=128, bad_rows=False).parent


def rated_folder(crops: Path, folder: Path, rated: int) -> Path:
    """Every crop copied; the first ``rated`` rated by the rule; two more carry stars
    Critique's scorer wrote (they never count)."""
    from critique_app.core.library.xmp import write_rating

    folder.mkdir()
    photos = sorted(crops.glob("*.jpg"))
    for index, photo in enumerate(photos):
        shutil.copy(photo, folder / photo.name)
        if index < rated:
            set_stars(folder / photo.name, stars_for(photo))
        elif index < rated + 2:
            write_rating(folder / photo.name, 4, basis="score-percentile")
    return folder


@pytest.fixture
def main(qtbot, tmp_path):
    window = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "s.json")
    qtbot.addWidget(window)
    window.resize(1320, 860)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.photo_page.personal.shutdown()
    window.close()


@pytest.fixture
def lite0():
    ModelStore().pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)


def open_folder(qtbot, main, folder: Path):
    page = main.photo_page
    main.open_path(folder)
    qtbot.waitUntil(lambda: page.path is not None and not page.ratings.loading, timeout=WAIT_MS)
    return page


# -- core: the one command, the one install ------------------------------------------------

def test_the_minimum_matches_the_trainers_and_only_own_ratings_count():
    from train.tasks.frozen import MIN_RATINGS as TRAINER_MIN

    assert MIN_RATINGS == TRAINER_MIN
    assert usable_rating(PhotoRating(stars=3))
    assert not usable_rating(PhotoRating(stars=3, automatic=True))  # Critique's own stars
    assert usable_rating(PhotoRating(rejected=True)) and usable_rating(PhotoRating(picked=True))
    assert not usable_rating(PhotoRating(stars=3, picked=True, automatic=True))
    assert not usable_rating(PhotoRating()) and not usable_rating(None)


def test_the_wizard_and_the_photo_page_build_the_same_command(tmp_path):
    folder = tmp_path / "Summer 2024"
    folder.mkdir()
    out = tmp_path / "run"
    name = personal_model_name(folder)
    assert name == "my-taste-summer-2024"
    expected = personal_argv(folder, out, name)
    assert expected[:1] == ["personal"] and "--base" not in expected
    assert FineTuningPlan("personal", data=folder).argv(out) == expected
    with_base = FineTuningPlan("personal", data=folder, base="tiny-score").argv(out)
    assert "--base" in with_base  # starting from a score model stays the wizard's own
    assert next_run_dir(folder).name == "run-1"
    next_run_dir(folder).mkdir(parents=True)
    assert next_run_dir(folder).name == "run-2"
    run = tmp_path / "wizard-run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"command": "personal", "argv": expected}))
    assert learned_folder_of_run(run) == folder.resolve()
    (run / "run.json").write_text(json.dumps({"command": "personal", "argv": with_base}))
    assert learned_folder_of_run(run) is None


def test_personal_info_says_what_it_learned_from():
    import datetime as dt

    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    info = PersonalInfo("my-taste-x", 57, 6, 0.713, 0.52, 0.84,
                        now - dt.timedelta(minutes=5), "/photos/x")
    assert info.summary() == "learned from 57 ratings, held-out SRCC 0.71 [0.52–0.84]"
    assert info.learned_text(now) == "learned 5 min ago"
    assert PersonalInfo("n", 20, None, None, None, None, now, None).learned_text(now) == \
        "learned just now"


def test_settings_keep_the_personal_model_and_the_retrain_interval(tmp_path):
    path = tmp_path / "settings.json"
    save_settings(Settings(personal_model="my-taste-x", personal_retrain_every=5), path)
    loaded = load_settings(path)
    assert loaded.personal_model == "my-taste-x" and loaded.personal_retrain_every == 5
    path.write_text(json.dumps({"personal_retrain_every": 0, "personal_model": 3}))
    loaded = load_settings(path)
    assert loaded.personal_retrain_every == 10 and loaded.personal_model is None
    assert "personal_retrain_every" in loaded.warning


@pytest.mark.slow  # a tiny score model, trained in-process
def test_a_personal_model_scores_beside_the_general_one_and_never_replaces_it(installed,
                                                                            tiny_model):
    from critique_app.core.scoring.scorer import find_scorers

    store = ModelStore()
    store.import_dir(tiny_model, name="my-taste-shoot", report=lambda _: None)
    general = find_scorers(store, device="cpu")
    assert general.photo.info.name != "my-taste-shoot" and general.personal is None
    both = find_scorers(store, device="cpu", personal="my-taste-shoot")
    assert both.photo.version == general.photo.version
    assert both.personal is not None and both.version == general.version
    missing = find_scorers(store, device="cpu", personal="my-taste-gone")
    assert missing.personal is None and "my-taste-gone" in missing.personal_missing


# -- the photo page ------------------------------------------------------------------------

def test_below_20_ratings_the_button_says_how_many_more(qtbot, main, crops, tmp_path):
    folder = rated_folder(crops, tmp_path / "shoot", rated=12)
    page = open_folder(qtbot, main, folder)
    box = page.score_panel.personal
    qtbot.waitUntil(lambda: box.status_text() == "rate 8 more photos to learn your taste",
                    timeout=WAIT_MS)
    assert box.isVisible() and box.button.isVisible() and not box.button.isEnabled()
    assert box.button.text() == "Learn my taste"
    page.open_photo(page.filmstrip.paths()[-1])  # unrated
    page.rate_stars(5)  # one more of the photographer's own
    qtbot.waitUntil(lambda: box.status_text() == "rate 7 more photos to learn your taste",
                    timeout=WAIT_MS)


@pytest.mark.slow  # runs the real trainer twice (features, ridge, ONNX export)
def test_one_click_learns_installs_and_shows_your_taste_then_learns_again(
        qtbot, main, crops, lite0, tmp_path):
    folder = rated_folder(crops, tmp_path / "shoot", rated=30)
    main.settings.personal_retrain_every = 3
    page = open_folder(qtbot, main, folder)
    box, taste = page.score_panel.personal, page.personal
    qtbot.waitUntil(box.button.isEnabled, timeout=WAIT_MS)
    assert taste.usable_count() == 30  # the two automatic ratings do not count
    box.button.click()
    assert taste.process.running and not box.progress.isHidden() and not box.cancel.isHidden()
    qtbot.waitUntil(lambda: taste.installs == 1 or taste.last_error is not None,
                    timeout=TRAIN_MS)
    assert taste.last_error is None, taste.last_error
    name = personal_model_name(folder)
    assert main.settings.personal_model == name
    assert load_settings(tmp_path / "s.json").personal_model == name  # saved
    installed = ModelStore().path(name)
    assert installed is not None
    assert json.loads((installed / "personal.json").read_text())["folder"] == \
        str(folder.resolve())
    metrics = json.loads((installed / "metrics.json").read_text())["metrics"]
    qtbot.waitUntil(lambda: box.score_text().startswith("<b>Your taste: "), timeout=WAIT_MS)
    text = box.score_text()
    assert f"learned from {metrics['ratings_used']} ratings" in text
    assert f"held-out SRCC {metrics['srcc']:.2f} [" in text
    assert box.learned.text() == "learned just now"
    # The general score stays the general scorer's: none is installed here.
    assert page.score_panel.headline_text() == ""
    # Another photo gets its own personal score.
    first = page.path
    page.filmstrip.step(1)
    qtbot.waitUntil(lambda: page.path != first and box.score_text().startswith("<b>Your"),
                    timeout=WAIT_MS)

    # Three new ratings: it learns again in the background, and replaces the model.
    before = (installed / "personal.json").read_text()
    unrated = [p for p in page.filmstrip.paths()
               if not usable_rating(page.ratings.rating(p))][:3]
    for photo in unrated:
        page.open_photo(photo)
        page.rate_stars(stars_for(photo))
    qtbot.waitUntil(lambda: taste.process.running or taste.installs == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: taste.installs == 2 or taste.last_error is not None,
                    timeout=TRAIN_MS)
    assert taste.last_error is None, taste.last_error
    after = ModelStore().path(name)
    assert json.loads((after / "personal.json").read_text())["ratings_in_folder"] == 33
    assert (after / "personal.json").read_text() != before
    assert len(list((next_run_dir(folder).parent).glob("run-*"))) <= 2  # old runs pruned


@pytest.mark.slow  # starts the real trainer
def test_a_newer_request_replaces_a_run_and_cancel_installs_nothing(qtbot, main, crops,
                                                                    lite0, tmp_path):
    folder = rated_folder(crops, tmp_path / "shoot", rated=24)
    page = open_folder(qtbot, main, folder)
    box, taste = page.score_panel.personal, page.personal
    qtbot.waitUntil(box.button.isEnabled, timeout=WAIT_MS)
    box.button.click()
    qtbot.waitUntil(lambda: "reading your" in box.status_text(), timeout=TRAIN_MS)
    first = taste.process.pid
    # A newer request (e.g. new ratings) replaces the run under way: stopped, started again.
    taste.learn(background=True)
    qtbot.waitUntil(lambda: taste.process.pid != first and taste.process.running,
                    timeout=WAIT_MS)
    assert taste.background and taste.installs == 0
    run_dir = taste.run_dir
    qtbot.waitUntil(lambda: "reading your" in box.status_text(), timeout=TRAIN_MS)
    box.cancel.click()
    qtbot.waitUntil(lambda: not taste.running, timeout=WAIT_MS)
    assert box.status_text() == "cancelled: nothing was installed"
    assert taste.installs == 0 and main.settings.personal_model is None
    assert ModelStore().path(personal_model_name(folder)) is None
    assert not run_dir.exists()
    assert box.button.isVisible() and box.button.isEnabled()


@pytest.mark.slow  # a tiny score model, trained in-process
def test_the_wizard_installs_a_learn_my_taste_run_the_same_way(qtbot, bridge, tiny_model,
                                                               tmp_path):
    """A finished no-base personal run, shown on the wizard's results page, installs with
    install_personal under the folder's name and becomes the personal model."""
    from critique_app.gui.finetune import FineTuneWizard

    folder = tmp_path / "shoot"
    folder.mkdir()
    run = tmp_path / "training" / "personal-1"
    model_dir = run / "model"
    shutil.copytree(tiny_model, model_dir)
    name = personal_model_name(folder)
    (run / "run.json").write_text(json.dumps(
        {"command": "personal", "argv": personal_argv(folder, run, name)}))
    applied: list[Settings] = []
    wizard = FineTuneWizard(bridge, Settings(), apply_settings=applied.append)
    qtbot.addWidget(wizard)
    results = wizard.results_page
    results.show_results(model_dir)
    assert results.personal_folder == folder.resolve()
    assert results.install_button.text() == "Install as my taste"
    results.install()
    qtbot.waitUntil(lambda: results.installed_name is not None, timeout=WAIT_MS)
    assert results.installed_name == name and applied[-1].personal_model == name
    assert applied[-1].scorer_model is None  # the general scorer is left alone
    assert (ModelStore().path(name) / "personal.json").is_file()
    wizard.shutdown()
    # And the same function installs from the photo page:
    assert install_personal.__module__ == "critique_app.core.finetuning.personal"


@pytest.mark.slow  # the wizard asks the trainer (its own process) to validate the folder
def test_the_wizards_personal_taste_offers_the_same_run_first(qtbot, bridge, crops, lite0,
                                                              tmp_path):
    from critique_app.gui.finetune import FineTuneWizard
    from critique_app.gui.finetune.model_page import FROZEN

    folder = rated_folder(crops, tmp_path / "shoot", rated=24)
    wizard = FineTuneWizard(bridge, Settings(), open_folder=folder,
                            apply_settings=lambda _new: None)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.task_page.set_task("personal")
    wizard.next()
    data = wizard.data_page
    data.open_folder_button.click()
    qtbot.waitUntil(lambda: not data.busy and bool(data.summary.plain_text()), timeout=WAIT_MS)
    assert "24 usable rows" in data.summary.plain_text()
    wizard.next()
    model = wizard.model_page
    assert model.choice() == FROZEN and model.isComplete()  # recommended, and first
    assert "Learn my taste" in model.base_note.plain_text()
    out = tmp_path / "run"
    assert wizard.build_plan().argv(out) == personal_argv(folder, out,
                                                          personal_model_name(folder))
    wizard.shutdown()
