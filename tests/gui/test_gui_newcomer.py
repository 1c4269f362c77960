"""The newcomer's path in the window: a mean-only score, the "No score model" offer of the
recommended pretrained scorer and its Pull (progress, Cancel, Retry), the model card and
the licence question in the Models dialog.

The store's own pull (Hub and URL sources, hashes, parts) is tested in tests/core; here
``ModelStore.pull`` is replaced by a stand-in with the same signature that reports
progress, honours ``cancel`` and installs a real (tiny, trained) score model, so what the
window shows after a pull is a real score."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from critique_app.core.app.settings import Settings
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import Cancelled, ModelError
from critique_app.gui.folder.table_model import (
    PERCENTILE_COLUMN,
    SCORE_COLUMN,
    STD_COLUMN,
    FolderResultsModel,
)
from critique_app.gui.main_window import MainWindow
from critique_app.gui.photo.score_panel import MEAN_ONLY, ScorePanel
from tests.helpers.photos import REPO_ROOT

SAMPLE = REPO_ROOT / "resources" / "samples" / "chelsea.jpg"
LAION = "laion-aesthetic-v2"
WAIT_MS = 30_000
DISTRIBUTION = ScoreDistribution.from_probabilities(
    [0.005, 0.01, 0.03, 0.08, 0.17, 0.27, 0.24, 0.13, 0.05, 0.015])


# --- a mean-only score -------------------------------------------------------------------
def test_a_mean_only_score_shows_the_mean_and_percentile_and_no_bars(qtbot):
    panel = ScorePanel()
    qtbot.addWidget(panel)
    mean_only = ScoreDistribution.from_mean(5.83)
    panel.show_scores({"photo": mean_only}, percentile=71.6,
                      models={"photo": "LAION aesthetic v2"})

    assert panel.headline_text() == "5.8"  # no "±": the model predicts no spread
    assert panel.is_mean_only() and panel.mean_only.text() == MEAN_ONLY
    assert panel.plot.isHidden() and panel.bar_heights() == []
    assert panel.percentile.text() == "percentile 72 in this folder"
    assert panel.model_text() == "scored by LAION aesthetic v2"
    assert panel.offer.isHidden()


def test_a_distribution_names_its_model_and_cues_mix_with_a_mean_only_score(qtbot):
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.show_scores({"photo": DISTRIBUTION}, models={"photo": "my-taste"})
    assert panel.model_text() == "scored by my-taste" and not panel.is_mean_only()
    assert panel.bar_heights() == pytest.approx(list(DISTRIBUTION.probabilities))

    mean_only = ScoreDistribution.from_mean(6.4)
    panel.show_scores({"photo": mean_only, "saliency": DISTRIBUTION},
                      models={"photo": "LAION aesthetic v2", "saliency": "saliency-head"})
    assert panel.cues.values == {"photo": "6.4",
                                 "saliency": f"{DISTRIBUTION.mean:.1f} ± {DISTRIBUTION.std:.1f}"}
    panel.grab()  # paints the cue bars: a mean-only bar draws no whisker, and no error


def test_the_folder_table_shows_a_mean_only_row_with_an_empty_spread(qtbot):
    row = {"path": "/shoot/a.jpg", "status": "ok", "error": None, "score_mean": 6.12,
           "score_std": None, "score_percentile": 40.0, "model": "laion-aesthetic-v2:x",
           **{f"p{i}": None for i in range(1, 11)}}
    model = FolderResultsModel()
    model.set_rows([row])
    texts = [model.index(0, c).data() for c in range(model.columnCount())]
    tips = [model.index(0, c).data(Qt.ItemDataRole.ToolTipRole)
            for c in range(model.columnCount())]
    assert texts[SCORE_COLUMN] == "6.12" and texts[STD_COLUMN] == "—"
    assert texts[PERCENTILE_COLUMN] == "40"
    assert "mean only" in tips[SCORE_COLUMN] and "mean only" in tips[STD_COLUMN]


# --- the offer and its pull ----------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path):
    made = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "settings.json")
    qtbot.addWidget(made)
    made.resize(1280, 820)
    made.show()
    return made


class PullStandIn:
    """``ModelStore.pull`` with the real signature: reports lines and bytes, stops on
    ``cancel`` as the store does (Cancelled), fails while ``failures`` are queued, and
    installs ``install`` (a model folder) when it succeeds."""

    def __init__(self, install=None) -> None:
        self.install = install
        self.failures: list[str] = []
        self.calls: list[dict] = []
        self.hold = threading.Event()  # set: the download waits until cancelled
        self.waiting = threading.Event()

    def __call__(self, store, name, report=print, *, show_progress=True,
                 accept_licence=False, cancel=None, progress=None):
        self.calls.append({"name": name, "accept_licence": accept_licence,
                           "cancel": cancel is not None, "progress": progress is not None})
        total = 3_714_759
        report(f"downloading {name}")
        progress(0, total)
        if self.failures:
            raise ModelError(self.failures.pop(0))
        while self.hold.is_set():
            self.waiting.set()
            if cancel.wait(0.02):
                raise Cancelled()
        progress(total, total)
        if self.install is None:
            raise ModelError("nothing to install")
        return store.import_dir(self.install, report=report)


@pytest.fixture
def pull(monkeypatch):
    stand_in = PullStandIn()
    monkeypatch.setattr(ModelStore, "pull",
                        lambda self, name, *args, **kwargs: stand_in(self, name, *args, **kwargs))
    return stand_in


def wait_for_offer(qtbot, page) -> None:
    qtbot.waitUntil(lambda: page.score_panel.offer.isVisibleTo(page.score_panel),
                    timeout=WAIT_MS)


def test_without_a_score_model_the_panel_offers_the_recommended_scorer(qtbot, window):
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    panel, offer = page.score_panel, page.score_panel.offer
    assert "No score model" in panel.status.text()
    assert offer.name == LAION
    assert "LAION aesthetic v2" in offer.title.text()
    facts = offer.facts.text()
    for words in ("SRCC 0.665", "Download: 1.7 GB", "Apache-2.0", "mean score"):
        assert words in facts, facts
    assert offer.pull_button.isVisibleTo(offer) and offer.pull_button.isEnabled()
    assert offer.progress.isHidden() and offer.cancel_button.isHidden()
    assert panel.bar_heights() == [] and panel.headline_text() == ""


def test_a_failing_pull_shows_its_error_in_one_line_and_retry_pulls_again(qtbot, window,
                                                                         pull):
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    offer = page.score_panel.offer
    pull.failures = ["could not reach github.com: connection reset\nTraceback details",
                     "the download was cut short"]
    offer.pull_button.click()
    qtbot.waitUntil(lambda: offer.showing_error(), timeout=WAIT_MS)
    assert pull.calls == [{"name": LAION, "accept_licence": False, "cancel": True,
                           "progress": True}]
    assert offer.message_text() == "could not reach github.com: connection reset"
    assert offer.pull_button.text() == "Retry" and offer.pull_button.isVisibleTo(offer)
    assert offer.progress.isHidden() and offer.cancel_button.isHidden()

    offer.pull_button.click()  # Retry
    qtbot.waitUntil(lambda: len(pull.calls) == 2 and offer.showing_error()
                    and "cut short" in offer.message_text(), timeout=WAIT_MS)
    assert ModelStore().path(LAION) is None
    assert not page.pulling


def test_cancel_stops_the_pull_and_installs_nothing(qtbot, window, pull):
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    offer = page.score_panel.offer
    pull.hold.set()
    offer.pull_button.click()
    assert offer.pull_button.isHidden() and offer.cancel_button.isVisibleTo(offer)
    assert pull.waiting.wait(10)
    qtbot.waitUntil(lambda: offer.progress.maximum() > 0, timeout=WAIT_MS)  # bytes known
    assert offer.progress.format().endswith("of 3.7 MB")
    offer.cancel_button.click()
    qtbot.waitUntil(lambda: not page.pulling, timeout=WAIT_MS)
    assert "cancelled" in offer.message_text() and not offer.showing_error()
    assert offer.pull_button.text().startswith("Pull") and offer.pull_button.isEnabled()
    assert offer.cancel_button.isHidden()
    assert ModelStore().installed_for_task("score") == []


def test_pull_then_the_open_photo_is_scored(qtbot, window, pull, tiny_model):
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    offer = page.score_panel.offer
    pull.install = tiny_model
    pull.failures = ["connection reset"]
    offer.pull_button.click()
    qtbot.waitUntil(lambda: offer.showing_error(), timeout=WAIT_MS)
    offer.pull_button.click()  # Retry, which works
    qtbot.waitUntil(lambda: "photo" in page.scores, timeout=60_000)
    panel = page.score_panel
    assert offer.isHidden() and "No score model" not in panel.status.text()
    score = page.scores["photo"]
    assert panel.headline_text().startswith(f"{score.mean:.1f}")
    assert panel.model_text() == f"scored by {page.score_models['photo']}"
    assert ModelStore().installed_for_task("score") == [tiny_model.name]


# --- the Models dialog ----------------------------------------------------------------------
@pytest.fixture
def models_dialog(qtbot, bridge):
    from critique_app.gui.models.dialog import ModelsDialog

    dialog = ModelsDialog(bridge)
    qtbot.addWidget(dialog)
    return dialog


def test_the_models_dialog_shows_the_selected_models_card(models_dialog):
    dialog = models_dialog
    dialog.select(LAION)
    text = dialog.details_text()
    for words in ("LAION aesthetic v2", "mean score only", "0.665", "pyiqa", "Apache-2.0",
                  "not measured yet", "Caution"):
        assert words in text, text
    row = next(r for r in range(dialog.table.rowCount())
               if dialog.table.item(r, 0).text() == LAION)
    assert dialog.table.item(row, 3).text() == "~1.7 GB"  # the download, not "1714.3 MB"
    assert dialog.table.item(row, 4).text() == "Hugging Face + URL"  # a model of parts
    assert "<b>laion-aesthetic-v2</b>" in dialog.recommendation.text()


def test_a_licence_must_be_accepted_before_a_pull_and_declining_pulls_nothing(
        qtbot, models_dialog, pull):
    dialog = models_dialog
    name = next(e.name for e in dialog.store.manifest.values() if e.licence_acceptance)
    asked = []
    dialog.confirm_licence = lambda entry: asked.append(entry.name) or False
    dialog.select(name)
    dialog.pull_button.click()
    assert asked == [name] and pull.calls == [] and not dialog.busy
    assert "licence was not accepted" in dialog.message_text()

    dialog.confirm_licence = lambda entry: asked.append(entry.name) or True
    pull.failures = ["stand-in: stop after the call"]
    dialog.pull_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert asked == [name, name]
    assert pull.calls == [{"name": name, "accept_licence": True, "cancel": True,
                           "progress": True}]


def test_the_licence_question_shows_the_licence_text_and_defaults_to_no(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from critique_app.gui.models.licence import ask_licence, licence_box

    entry = next(e for e in ModelStore().manifest.values() if e.licence_acceptance)
    box = licence_box(None, entry)
    qtbot.addWidget(box)
    assert entry.licence in box.text() and box.informativeText() == entry.licence_acceptance
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)

    answers = []

    def answer(button):
        def press():
            shown = QApplication.activeModalWidget()
            if shown is None:  # not up yet
                QTimer.singleShot(20, press)
                return
            answers.append(shown.informativeText())
            shown.button(button).click()
        QTimer.singleShot(20, press)

    answer(QMessageBox.StandardButton.No)
    assert ask_licence(None, entry) is False
    answer(QMessageBox.StandardButton.Yes)
    assert ask_licence(None, entry) is True
    assert answers == [entry.licence_acceptance] * 2


def test_the_offer_asks_for_a_licence_before_pulling_when_one_is_needed(qtbot, window, pull,
                                                                         monkeypatch):
    """recommend_scorer never offers such a model; the page asks anyway if one comes."""
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    store = ModelStore()
    licensed = next(e for e in store.manifest.values() if e.licence_acceptance)
    asked = []
    monkeypatch.setattr(page, "accept_licence", lambda entry: asked.append(entry.name) or False)
    page.pull_scorer(licensed.name)
    assert asked == [licensed.name] and pull.calls == [] and not page.pulling
    assert "licence was not accepted" in page.score_panel.offer.message_text()


# --- the whole path, with the real store pulling from stand-ins of the Hub and GitHub -------
SHARED = REPO_ROOT.parent / "shared"
CLIP_REPO = "openai/clip-vit-large-patch14"
CLIP_COMMIT = "32bd64288804d66eefd0ccbe215aa642df71cc41"


def _tiny_clip_files(folder) -> dict[str, bytes]:
    """A tiny CLIP vision tower (the real architecture, projection 768 as the LAION head
    needs; random weights: only ever in tests) as the Hub would serve it."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, image_size=224, patch_size=32,
                              projection_dim=768)
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    files["preprocessor_config.json"] = (
        SHARED / "real-configs" / "clip-vit-large-patch14" / "preprocessor_config.json"
    ).read_bytes()
    return files


@pytest.mark.slow  # builds a (tiny) CLIP
def test_pull_laion_through_the_stand_ins_retry_a_dropped_download_then_a_mean_only_score(
        qtbot, tmp_path, monkeypatch):
    """The newcomer's one click with the real store: the backbone from the Hub stand-in,
    the REAL LAION head from the URL stand-in (its manifest hash and size verify it); the
    head's connection drops once (one-line error, Retry); then the open photo is scored
    by LAION aesthetic v2: a mean, no histogram. Only the backbone's config facts differ
    from the manifest (the real 1.7 GB CLIP cannot be served here)."""
    import copy
    import hashlib
    import json
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    import critique_app.core.store.store as store_module
    from critique_app.core.store.manifest import entry_from_dict, load_manifest
    from critique_app.core.store.urls import MIRROR_ENV
    from tests.helpers.hub_stand_in import HubStandIn
    from tests.helpers.url_stand_in import UrlStandIn

    served = _tiny_clip_files(tmp_path / "tiny-clip")
    raw = json.loads((REPO_ROOT / "models" / "manifest.json").read_text())
    entry_raw = copy.deepcopy(next(m for m in raw["models"] if m["name"] == LAION))
    for file in entry_raw["files"]:
        if file["path"] == "backbone/config.json":
            file.update(sha256=hashlib.sha256(served["config.json"]).hexdigest(),
                        size=len(served["config.json"]))
        if file["path"] == "backbone/model.safetensors":
            file.pop("size")
    manifest = {**load_manifest(), LAION: entry_from_dict(entry_raw, where="test")}
    monkeypatch.setattr(store_module, "load_manifest", lambda *args: dict(manifest))
    head_part = next(p for p in entry_raw["source"]["parts"] if p["folder"] == "head")
    head_path = urlsplit(head_part["source"]["url"]).path

    hub, mirror = HubStandIn().start(), UrlStandIn().start()
    try:
        hub.add(CLIP_REPO, CLIP_COMMIT, served)
        mirror.add(head_path, (SHARED / "fixtures" / "laion-aesthetic-v2-head.pth").read_bytes())
        mirror.drop[head_path] = True
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv(MIRROR_ENV, mirror.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))

        main = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "s.json")
        qtbot.addWidget(main)
        main.show()
        page = main.photo_page
        main.open_path(SAMPLE)
        wait_for_offer(qtbot, page)
        offer = page.score_panel.offer
        seen = []
        show = offer.set_progress
        offer.set_progress = lambda *values: (seen.append(values), show(*values))

        offer.pull_button.click()
        qtbot.waitUntil(lambda: offer.showing_error(), timeout=WAIT_MS)
        assert "cut off" in offer.message_text() and "\n" not in offer.message_text()
        assert offer.pull_button.text() == "Retry" and ModelStore().path(LAION) is None

        mirror.drop[head_path] = False
        offer.pull_button.click()
        qtbot.waitUntil(lambda: "photo" in page.scores, timeout=60_000)
    finally:
        hub.stop()
        mirror.stop()
    assert any(done is not None and total for done, total, _ in seen)  # bytes, for the bar
    panel = page.score_panel
    score = page.scores["photo"]
    assert not score.has_distribution
    assert panel.is_mean_only() and panel.plot.isHidden() and panel.bar_heights() == []
    assert panel.headline_text() == f"{score.mean:.1f}"
    assert panel.model_text() == "scored by LAION aesthetic v2"
    assert offer.isHidden() and ModelStore().verify(LAION)[0].ok


def test_closing_the_window_mid_pull_stops_it_and_installs_nothing(qtbot, window, pull):
    page = window.photo_page
    window.open_path(SAMPLE)
    wait_for_offer(qtbot, page)
    pull.hold.set()
    page.score_panel.offer.pull_button.click()
    assert pull.waiting.wait(10)
    window.close()  # cancels the bridge's work and waits for it
    assert window.bridge.pool.activeThreadCount() == 0
    qtbot.waitUntil(lambda: not page.pulling, timeout=WAIT_MS)  # its end still arrives
    assert "cancelled" in page.score_panel.offer.message_text()
    assert ModelStore().installed_for_task("score") == []
