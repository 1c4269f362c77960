"""The fine-tuning wizard, driven like a photographer would, offscreen, with real
(tiny) training runs of ``python -m train`` as a separate process on the CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QWizard

from critique_app.core.app.settings import Settings, load_settings
from critique_app.core.finetuning.runs import list_runs, read_run
from critique_app.core.store.store import ModelStore
from critique_app.gui.finetune import FineTuneWizard
from critique_app.gui.finetune.pages import DATA, RESULTS, RUN, SETTINGS, TASK
from tests.helpers.photos import PHOTOS, REPO_ROOT
from tests.helpers.rating_tables import blurred_crops

SAMPLE = REPO_ROOT / "resources" / "samples" / "chelsea.jpg"
WAIT_MS = 30_000
RUN_MS = 90_000
TINY = "test_efficientnet"  # a timm test architecture: random start, nothing downloaded
NEXT = QWizard.WizardButton.NextButton
BACK = QWizard.WizardButton.BackButton
pytestmark = pytest.mark.slow  # each wizard starts the trainer (python -m train)


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    return blurred_crops(tmp_path_factory.mktemp("blurred"))


@pytest.fixture
def open_wizard(qtbot, bridge):
    made = []

    def make(**kwargs) -> FineTuneWizard:
        applied: list[Settings] = []
        kwargs.setdefault("apply_settings", applied.append)
        wizard = FineTuneWizard(bridge, Settings(), **kwargs)
        wizard.applied = applied
        qtbot.addWidget(wizard)
        wizard.show()
        made.append(wizard)
        return wizard

    yield make
    for wizard in made:
        wizard.shutdown()
        assert not wizard.training


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def go_to_data(wizard: FineTuneWizard, task: str = "score") -> None:
    assert wizard.currentId() == TASK
    wizard.task_page.set_task(task)
    wizard.next()
    assert wizard.currentId() == DATA


def validate(qtbot, wizard: FineTuneWizard, path: Path) -> None:
    page = wizard.data_page
    page.path.setText(str(path))
    page.validate_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)


def set_up_tiny_score_run(qtbot, wizard: FineTuneWizard, ratings: Path, *, epochs: int = 2,
                          extra: str = "", precision: str = "auto") -> None:
    """Task, data, model and settings pages for a tiny CPU score run; stops before Start."""
    go_to_data(wizard)
    validate(qtbot, wizard, ratings)
    assert wizard.button(NEXT).isEnabled()
    wizard.next()
    model = wizard.model_page
    # No ImageNet backbone in this store: the page says how to get it, and waits.
    assert not model.isComplete() and not wizard.button(NEXT).isEnabled()
    assert "pull efficientnet-lite0-imagenet in Models…" in model.base_note.plain_text()
    model.set_other_architecture(TINY)
    model.profile.setCurrentIndex(model.profile.findData("cpu"))
    assert model.isComplete()
    wizard.next()
    assert wizard.currentId() == SETTINGS
    settings = wizard.settings_page
    settings.epochs.setValue(epochs)
    settings.input_size.setValue(64)
    settings.val_percent.setValue(25)
    settings.precision.setCurrentIndex(settings.precision.findData(precision))
    settings.extra.setText(extra)


def start(wizard: FineTuneWizard) -> None:
    wizard.next()
    assert wizard.currentId() == RUN


def wait_for_outcome(qtbot, wizard: FineTuneWizard, timeout: int = RUN_MS) -> str:
    page = wizard.run_page
    try:
        qtbot.waitUntil(lambda: page.outcome in ("finished", "stopped", "failed")
                        and not page.running, timeout=timeout)
    except Exception:
        print("TIMEOUT", page.outcome, page.running, page.log.toPlainText()[-3000:])
        raise
    return page.outcome


# -- the whole way: data, model, settings, run, results, install ---------------------------

def test_a_score_run_from_data_to_an_installed_model_in_use(qtbot, ratings, tmp_path):
    from critique_app.gui.main_window import MainWindow

    settings_file = tmp_path / "settings.json"
    main = MainWindow(Settings(auto_critique=False), settings_path=settings_file)
    qtbot.addWidget(main)
    main.show()
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: "No score model" in main.photo_page.score_panel.status.text(),
                    timeout=WAIT_MS)
    tools = next(a.menu() for a in main.menuBar().actions() if a.text() == "&Tools")
    next(a for a in tools.actions() if a.text() == "&Fine-tune…").trigger()
    wizard = main.fine_tune_wizard
    assert wizard is not None and wizard.isVisible()

    set_up_tiny_score_run(qtbot, wizard, ratings)
    data = wizard.data_page
    assert "36 usable rows with 36 photos" in data.summary.plain_text()
    assert data.error_lines() == ["line 38: photo not found: missing.jpg",
                                  "line 39: score 'eleven' is not a number"]
    preview = data.preview_rows()
    assert len(preview) == 5 and preview[0][:3] == ["2", "chelsea-0.0.jpg", "score 9.5"]
    model = wizard.model_page
    qtbot.waitUntil(lambda: "No GPU" in model.hardware_label.plain_text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "fits" in model.memory.plain_text(), timeout=WAIT_MS)
    assert "GiB of 11 GiB" in model.memory.plain_text() and not model.memory.error
    settings = wizard.settings_page
    settings.name.setText("blur-judge")
    command = settings.command.text()
    assert f"--backbone {TINY}" in command and "--input-size 64" in command
    assert "--profile cpu" in command and "--name blur-judge" in command

    start(wizard)
    run = wizard.run_page
    assert not wizard.button(BACK).isVisible()  # no going back while it trains
    assert wait_for_outcome(qtbot, wizard) == "finished", run.log.toPlainText()
    assert run.plot.points == run.progress.total_steps > 0
    assert run.bar.value() == 1000 and run.status.text().startswith("Finished")
    assert "On the held-out photos: SRCC" in run.metrics.text()
    log = run.log.toPlainText()
    assert "checkpoint saved at step" in log and "photo not found: missing.jpg" in log
    assert wizard.button(NEXT).isEnabled()

    wizard.next()
    assert wizard.currentId() == RESULTS
    results = wizard.results_page
    metrics = results.metric_rows()
    assert set(metrics) >= {"Rank correlation with the ratings (SRCC)",
                            "Distribution error (EMD)"}
    assert results.metrics.isColumnHidden(2)  # trained from scratch: no starting model
    examples = results.example_rows()
    assert 1 <= len(examples) <= 8 and examples[0][0].endswith(".jpg")
    assert all(float(rated) and float(predicted) for _, rated, predicted in examples)
    qtbot.waitUntil(lambda: not results.score_examples.item(0, 0).icon().isNull(),
                    timeout=WAIT_MS)

    # Install: into the store, chosen in the settings (saved), and the open photo is
    # scored with it at once.
    results.install_button.click()
    qtbot.waitUntil(lambda: results.installed_name is not None, timeout=WAIT_MS)
    assert ModelStore().entry("blur-judge").task == "score"
    assert main.settings.scorer_model == "blur-judge"
    assert load_settings(settings_file).scorer_model == "blur-judge"
    assert "now scores photos" in results.install_message.plain_text()
    qtbot.waitUntil(lambda: "photo" in main.photo_page.scores, timeout=WAIT_MS)
    assert main.photo_page.score_panel.headline_text()

    # The same model again: the name is taken, so it is installed under another one.
    asked = []
    results.ask_name = lambda suggested, taken: asked.append((suggested, taken)) or suggested
    results.show_results(results.model_dir)
    results.install_button.click()
    qtbot.waitUntil(lambda: results.installed_name is not None, timeout=WAIT_MS)
    assert asked == [("blur-judge-2", "blur-judge")]
    assert ModelStore().path("blur-judge-2") is not None
    assert main.settings.scorer_model == "blur-judge-2"
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert main.fine_tune_wizard is None


def test_without_apply_settings_the_settings_file_is_written(qtbot, open_wizard, tmp_path):
    from critique_app.gui.finetune.results_page import ResultsPage

    wizard = open_wizard(apply_settings=None)
    page: ResultsPage = wizard.results_page
    page.results = {"task": "score"}
    page._apply(Settings(scorer_model="mine"))
    assert load_settings().scorer_model == "mine" and wizard.settings.scorer_model == "mine"


# -- stopping and resuming ---------------------------------------------------------------

def test_a_stopped_run_is_resumed_later_and_finishes(qtbot, open_wizard, ratings):
    wizard = open_wizard()
    set_up_tiny_score_run(qtbot, wizard, ratings, epochs=4,
                          extra="--batch-size 1 --checkpoint-every 5")
    start(wizard)
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.progress.checkpoint_step is not None, timeout=RUN_MS)
    run.stop_button.click()
    assert wait_for_outcome(qtbot, wizard) == "stopped", run.log.toPlainText()
    assert run.exit_code == 130
    stopped_at = run.progress.step
    assert 0 < stopped_at < run.progress.total_steps
    assert run.resume_button.isVisible() and not run.stop_button.isVisible()
    assert "Resume continues" in run.problem.plain_text()
    assert read_run(run.run_dir).resumable
    folder = run.run_dir
    wizard.reject()
    assert not wizard.training

    # Another day: the first page offers the stopped run.
    again = open_wizard()
    tasks = again.task_page
    assert [r.folder for r in list_runs() if r.resumable] == [folder]
    tasks.select_run(folder)
    assert tasks.open_button.text() == "Resume" and "stopped at step" in tasks.runs.currentText()
    tasks.open_button.click()
    assert again.currentId() == RUN
    resumed = again.run_page
    assert wait_for_outcome(qtbot, again) == "finished", resumed.log.toPlainText()
    steps = [s for s, _ in resumed.progress.losses]
    assert steps == sorted(steps) and steps[-1] == resumed.progress.total_steps
    assert len(steps) == len(set(steps))  # the steps after the checkpoint are not doubled
    again.next()
    assert again.results_page.metric_rows()
    assert read_run(folder).finished
    again.reject()

    third = open_wizard()  # a finished run: its results, from the first page
    third.task_page.select_run(folder)
    assert third.task_page.open_button.text() == "Show results"
    third.task_page.open_button.click()
    assert third.currentId() == RESULTS and third.results_page.metric_rows()


# -- failures never take the app down --------------------------------------------------------

def test_bad_data_and_failing_runs_show_the_reason(qtbot, open_wizard, ratings, tmp_path):
    wizard = open_wizard()
    go_to_data(wizard)
    validate(qtbot, wizard, tmp_path / "nowhere.csv")
    assert wizard.data_page.summary.error and "nowhere.csv" in wizard.data_page.summary.text()
    assert not wizard.button(NEXT).isEnabled()
    wizard.back()

    set_up_tiny_score_run(qtbot, wizard, ratings, precision="bf16")  # no bf16 on a CPU
    start(wizard)
    run = wizard.run_page
    assert wait_for_outcome(qtbot, wizard) == "failed"
    assert "bf16 training needs a CUDA GPU" in run.problem.plain_text()
    assert run.problem.error and not run.resume_button.isVisible()
    assert not wizard.button(NEXT).isEnabled() and wizard.button(BACK).isVisible()

    wizard.back()  # change the settings and try again
    assert wizard.currentId() == SETTINGS
    wizard.settings_page.precision.setCurrentIndex(0)
    wizard.settings_page.extra.setText("--no-such-option")  # dies before it can report
    start(wizard)
    assert wait_for_outcome(qtbot, wizard) == "failed"
    text = run.problem.plain_text()
    assert "exit code 2" in text and "unrecognized arguments: --no-such-option" in text

    wizard.settings_page.extra.setText('--name "unclosed')
    assert not wizard.settings_page.isComplete()


# -- closing mid-run leaves no trainer behind -----------------------------------------------

def test_closing_the_wizard_mid_run_stops_the_trainer(qtbot, open_wizard, ratings):
    wizard = open_wizard()
    set_up_tiny_score_run(qtbot, wizard, ratings, epochs=500, extra="--batch-size 1")
    start(wizard)
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.progress.step > 0, timeout=RUN_MS)
    pid = run.process.pid
    assert pid and alive(pid)
    wizard.reject()
    assert not wizard.training and not alive(pid)
    assert not wizard.isVisible()


def test_closing_the_app_mid_run_stops_the_trainer(qtbot, ratings, tmp_path):
    from critique_app.gui.main_window import MainWindow

    main = MainWindow(Settings(), settings_path=tmp_path / "settings.json")
    qtbot.addWidget(main)
    main.show()
    main.show_fine_tune()
    wizard = main.fine_tune_wizard
    assert wizard is not None and wizard.isVisible()
    set_up_tiny_score_run(qtbot, wizard, ratings, epochs=500, extra="--batch-size 1")
    start(wizard)
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.progress.step > 0, timeout=RUN_MS)
    pid = run.process.pid
    main.close()
    assert not alive(pid) and not wizard.training


# -- the pages without training ---------------------------------------------------------------

def test_self_supervised_data_is_a_folder_of_photos(qtbot, open_wizard, ratings):
    wizard = open_wizard(open_folder=ratings.parent)
    go_to_data(wizard, "ssl")
    page = wizard.data_page
    assert not page.format.isVisible() and page.open_folder_button.isVisible()
    page.open_folder_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.summary.plain_text() == "36 photos found."
    assert wizard.button(NEXT).isEnabled()
    page.path.setText(str(ratings))  # a file, not a folder
    assert not wizard.button(NEXT).isEnabled()
    page.validate_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.summary.error and "is not a folder" in page.summary.text()


def test_personal_taste_offers_the_open_folders_ratings(qtbot, open_wizard, tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for stars, name in enumerate(("chelsea", "coffee", "astronaut"), 2):
        Image.open(PHOTOS[name]).convert("RGB").save(folder / f"{name}.jpg")
        (folder / f"{name}.jpg.xmp").write_text(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            f'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{stars}"/>'
            '</rdf:RDF></x:xmpmeta>')
    wizard = open_wizard(open_folder=folder)
    go_to_data(wizard, "personal")
    page = wizard.data_page
    assert page.open_folder_button.text() == "Use the open folder (shoot)"
    page.open_folder_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.format.currentData() == "xmp"
    assert "3 usable rows" in page.summary.plain_text() and not page.summary.error
    wizard.next()
    model = wizard.model_page  # no score model installed: say how to get one
    assert not model.isComplete() and "No score model is installed" in \
        model.base_note.plain_text()


def test_a_gpu_is_shown_with_an_estimate_that_does_not_fit(qtbot, open_wizard, monkeypatch,
                                                          ratings):
    from critique_app.core.finetuning import probes

    gpu = {"name": "NVIDIA GeForce RTX 2080 Ti", "compute_capability": "7.5",
           "total_memory_bytes": 11 * 1024**3}
    asked = []
    monkeypatch.setattr(probes, "detect_hardware", lambda: {"device": "cuda", "gpu": gpu})
    monkeypatch.setattr(probes, "estimate_memory", lambda task, **options: asked.append(
        (task, options)) or [{"batch_size": 32, "input_size": 224, "total_gib": 12.4,
                              "fits": False}])
    wizard = open_wizard()
    go_to_data(wizard)
    validate(qtbot, wizard, ratings)
    wizard.next()
    model = wizard.model_page
    qtbot.waitUntil(lambda: "2080 Ti" in model.hardware_label.plain_text(), timeout=WAIT_MS)
    assert model.hardware_label.plain_text() == \
        "NVIDIA GeForce RTX 2080 Ti · compute capability 7.5 · 11.0 GiB"
    model.set_other_architecture(TINY)
    qtbot.waitUntil(lambda: "does not fit" in model.memory.plain_text(), timeout=WAIT_MS)
    assert model.memory.error
    assert model.memory.plain_text().startswith("≈ 12.4 GiB of 11 GiB on NVIDIA GeForce")
    assert "Lower the batch size or turn on gradient checkpointing" in model.memory_note.text()
    assert asked[-1] == ("score", {"base": TINY, "input_size": None, "batch_size": None,
                                   "limit_gb": 11.0})
    model.profile.setCurrentIndex(model.profile.findData("2080ti"))  # a GPU: offered
    assert model.profile.currentData() == "2080ti"
    # The settings page shows the estimate too, and asks again for the batch chosen there.
    wizard.next()
    settings = wizard.settings_page
    qtbot.waitUntil(lambda: "does not fit" in settings.memory.plain_text(), timeout=WAIT_MS)
    assert settings.memory.error
    settings.batch_size.setValue(8)
    qtbot.waitUntil(lambda: asked[-1][1]["batch_size"] == 8, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "12.4 GiB" in settings.memory.plain_text(), timeout=WAIT_MS)


def test_a_critic_needs_critiques_not_ratings(qtbot, open_wizard, ratings):
    wizard = open_wizard()
    go_to_data(wizard, "critic")
    validate(qtbot, wizard, ratings)
    assert wizard.data_page.summary.error
    assert "holds ratings, but this task needs critiques" in wizard.data_page.summary.text()
    assert not wizard.button(NEXT).isEnabled()


# -- results of other tasks: a starting model to compare with, a critic adapter ----------------

def write_model(folder: Path, metadata: dict, metrics: dict, examples: list) -> Path:
    folder.mkdir(parents=True)
    (folder / "critique_model.json").write_text(json.dumps(
        {"architecture": "test", "licence": "MIT", "description": "for tests",
         "trained_on": "tests", **metadata}))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "examples.json").write_text(json.dumps(examples))
    (folder / "weights.bin").write_bytes(b"0" * 64)
    return folder


def test_results_compare_with_the_starting_model(open_wizard, tmp_path):
    wizard = open_wizard()
    page = wizard.results_page
    page.show_results(write_model(
        tmp_path / "run" / "model",
        {"name": "my-taste", "task": "score", "trained_on": "trained on shoot (xmp) (40 photos; "
         "val_srcc 0.6)"},
        {"metrics": {"srcc": 0.61, "emd": 0.2, "n": 8},
         "baseline_metrics": {"srcc": 0.35, "emd": 0.25, "n": 8}},
        [{"image": str(PHOTOS["coffee"]), "rated": 8.0, "predicted": 7.1}]))
    assert "Trained on shoot (xmp) (40 photos)." in page.summary.text()
    assert not page.metrics.isColumnHidden(2)
    rows = page.metric_rows()
    assert rows["Rank correlation with the ratings (SRCC)"] == ["0.610", "0.350"]
    assert rows["Distribution error (EMD)"] == ["0.200", "0.250"]
    srcc = page.metrics.item(0, 1).foreground().color().name()
    assert srcc == "#2e7d32"  # better than the starting model
    assert page.example_rows() == [["coffee.png", "8.0", "7.1"]]
    assert "Measured on 8 held-out photos" in page.metrics_note.text()


@pytest.mark.parametrize("other_critic", [False, True])
def test_a_critic_adapter_is_installed_with_its_persona(qtbot, open_wizard, tmp_path,
                                                        other_critic):
    store = ModelStore()
    for name in ["base-vlm", *(["aaa-vlm"] if other_critic else [])]:
        store.import_dir(write_model(tmp_path / name, {"name": name, "task": "critic"}, {}, []),
                         report=lambda _: None)
    wizard = open_wizard()
    page = wizard.results_page
    page.show_results(write_model(
        tmp_path / "run" / "model",
        {"name": "novice-voice", "task": "critic-adapter", "trained_on": "pccd: 30 examples",
         "extra": {"base": "base-vlm", "persona": "novice"}},
        {"metrics": {"bleu_4": 0.12, "loss": 2.1}, "baseline_metrics": {"bleu_4": 0.05,
                                                                         "loss": 2.9}},
        [{"image": "/photos/IMG_1.jpg", "critique": "Description\nA cat on a sofa.",
          "emotion": {"category": "contentment"}, "reference": {"description": "a cat"}}]))
    assert page.examples.currentWidget() is page.critiques
    text = page.critiques.toPlainText()
    assert "IMG_1.jpg · evokes contentment" in text and "A cat on a sofa." in text
    assert page.metric_rows()["Loss"] == ["2.100", "2.900"]
    page.install_button.click()
    qtbot.waitUntil(lambda: page.installed_name is not None, timeout=WAIT_MS)
    new = wizard.applied[-1]
    assert new.default_persona == "novice" and new.use_language_model
    # The app finds the adapter for the critic it uses: its base model, chosen if needed.
    assert new.critic_model == ("base-vlm" if other_critic else None)
    assert "novice" in page.install_message.plain_text()


# -- learn my taste: rate in the main window, train the personal model, use it -------------

def test_rating_photos_then_learning_that_taste_in_the_wizard(qtbot, installed, ratings,
                                                              tmp_path):
    """The photographer rates a folder with the keyboard, opens Fine-tune ▸ Personal taste
    on that folder, trains on top of the installed scorer, and installs the result."""
    import shutil

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from critique_app.gui.main_window import MainWindow

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    photos = sorted(p for p in ratings.parent.glob("*.jpg"))[:18]
    for photo in photos:
        shutil.copy(photo, shoot / photo.name)
    main = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "settings.json")
    qtbot.addWidget(main)
    main.show()
    main.open_path(shoot)
    page = main.photo_page
    # This photographer likes blur: the blurrier the crop, the more stars.
    for index in range(len(photos)):
        qtbot.waitUntil(lambda: page.path is not None and page.analysis is not None,
                        timeout=WAIT_MS)
        radius = float(page.path.stem.rsplit("-", 1)[1])
        QTest.keyClick(main, getattr(Qt.Key, f"Key_{1 + round(radius)}"))
        if index < len(photos) - 1:
            current = page.path
            page.filmstrip.step(1)
            qtbot.waitUntil(lambda current=current: page.path != current, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: main.rating_counts() == (len(photos), len(photos)),
                    timeout=WAIT_MS)

    main.show_fine_tune()
    wizard = main.fine_tune_wizard
    go_to_data(wizard, "personal")
    data = wizard.data_page
    data.open_folder_button.click()
    qtbot.waitUntil(lambda: not data.busy and bool(data.summary.plain_text()), timeout=WAIT_MS)
    assert f"{len(photos)} usable rows" in data.summary.plain_text()
    wizard.next()
    model = wizard.model_page
    assert model.choice() == ("base", "tiny-score")  # the installed scorer to start from
    model.profile.setCurrentIndex(model.profile.findData("cpu"))
    wizard.next()
    settings = wizard.settings_page
    settings.epochs.setValue(3)
    settings.val_percent.setValue(30)
    settings.name.setText("my-taste")
    start(wizard)
    assert wait_for_outcome(qtbot, wizard) == "finished", wizard.run_page.log.toPlainText()
    wizard.next()
    results = wizard.results_page
    assert not results.metrics.isColumnHidden(2)  # beside the scorer it started from
    rows = results.metric_rows()
    assert all(new and before for new, before in rows.values())
    results.install_button.click()
    qtbot.waitUntil(lambda: results.installed_name is not None, timeout=WAIT_MS)
    assert main.settings.scorer_model == "my-taste"
    wizard.button(QWizard.WizardButton.FinishButton).click()
