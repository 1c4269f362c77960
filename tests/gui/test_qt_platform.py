"""Before Qt starts on Linux: missing window-system libraries and a missing display
are each reported in one line, instead of Qt's abort.

The plugins here are real ELF shared objects written by the test, whose needed
libraries do or do not exist, so the checks run the real dynamic loader on any
Linux machine, with or without the xcb libraries installed.
"""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from critique_app.gui import platform_check
from tests.helpers.photos import REPO_ROOT

MISSING_A = "libcritique-test-missing-a.so.1"
MISSING_B = "libcritique-test-missing-b.so.2"
_MACHINES = {"x86_64": 62, "aarch64": 183}

linux_elf = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() not in _MACHINES,
    reason="ELF shared objects are a Linux (x86-64 / arm64) matter",
)


def write_shared_object(path: Path, needed: list[str]) -> Path:
    """A minimal, loadable ELF64 shared object that depends on ``needed``."""
    strtab = b"\0" + b"".join(name.encode() + b"\0" for name in needed)
    offsets = [1 + sum(len(n) + 1 for n in needed[:i]) for i in range(len(needed))]
    str_off = 64 + 2 * 56  # after the ELF header and two program headers
    sym_off = (str_off + len(strtab) + 7) & ~7
    hash_off = sym_off + 24  # one empty symbol
    dyn_off = hash_off + 16
    dynamic = [(1, o) for o in offsets]  # DT_NEEDED
    dynamic += [(5, str_off), (10, len(strtab)), (6, sym_off), (11, 24), (4, hash_off), (0, 0)]
    size = dyn_off + 16 * len(dynamic)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 3, _MACHINES[platform.machine()], 1, 0, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 6, 0, 0, 0, size, size, 0x1000)
    dyn = struct.pack("<IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, size - dyn_off,
                      size - dyn_off, 8)
    data = bytearray(size)
    data[: str_off] = header + load + dyn
    data[str_off : str_off + len(strtab)] = strtab
    data[hash_off:dyn_off] = struct.pack("<IIII", 1, 1, 0, 0)  # DT_HASH: one bucket, one chain
    data[dyn_off:] = b"".join(struct.pack("<qQ", tag, value) for tag, value in dynamic)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def broken_plugin(tmp_path) -> Path:
    return write_shared_object(tmp_path / "broken" / "libqxcb.so", [MISSING_A, "libc.so.6",
                                                                     MISSING_B])


@pytest.fixture
def working_plugin(tmp_path) -> Path:
    return write_shared_object(tmp_path / "working" / "libqwayland.so", ["libc.so.6"])


@linux_elf
def test_every_library_the_loader_cannot_find_is_named(broken_plugin, working_plugin):
    assert platform_check.missing_libraries(broken_plugin) == [MISSING_A, MISSING_B]
    assert platform_check.missing_libraries(working_plugin) == []


@linux_elf
def test_without_ldd_loading_the_plugin_names_the_first_missing_library(
    broken_plugin, working_plugin, monkeypatch
):
    monkeypatch.setattr(platform_check.shutil, "which", lambda name: None)
    assert platform_check.missing_libraries(broken_plugin) == [MISSING_A]
    assert platform_check.missing_libraries(working_plugin) == []


@linux_elf
def test_the_real_xcb_plugin_verdict_agrees_with_the_dynamic_loader():
    plugin = platform_check.find_platform_plugin("xcb", {})
    if plugin is None:
        pytest.skip("this PySide6 has no xcb plugin where the wheel keeps it")
    missing = platform_check.missing_libraries(plugin)
    loaded = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(plugin)!r})"],
                            capture_output=True, text=True, timeout=60)
    if loaded.returncode == 0:
        assert missing == []
    else:
        assert missing, loaded.stderr
        assert any(name in loaded.stderr for name in missing), (missing, loaded.stderr)


def _gui_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM",
                        "QT_QPA_PLATFORM_PLUGIN_PATH", "QT_PLUGIN_PATH")}
    env.update(extra)
    return env


def _run_gui(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "critique_app", "gui"], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


@linux_elf
def test_the_app_names_the_missing_libraries_instead_of_aborting(broken_plugin):
    # Qt itself would load this plugin from QT_QPA_PLATFORM_PLUGIN_PATH, fail, and abort.
    plugins = str(broken_plugin.parent)
    result = _run_gui(_gui_env(DISPLAY=":99", QT_QPA_PLATFORM_PLUGIN_PATH=plugins))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "xcb platform plugin" in lines[0]
    assert f"({MISSING_A}, {MISSING_B})" in lines[0]
    assert "sudo " in lines[0] and "install" in lines[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland are Linux's")
def test_no_display_is_one_clear_line():
    result = _run_gui(_gui_env())
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: no display: DISPLAY is not set")
    assert "QT_QPA_PLATFORM=offscreen" in lines[0]


def test_which_platforms_are_checked(tmp_path, monkeypatch):
    broken, working = tmp_path / "broken.so", tmp_path / "working.so"
    verdicts = {broken: ["libxcb-icccm.so.4"], working: []}
    plugins = {"xcb": broken, "wayland": working}
    monkeypatch.setattr(platform_check, "missing_libraries", verdicts.__getitem__)

    def problem(environ, system="linux", found=plugins):
        return platform_check.display_problem(environ, system=system, plugin_path=found.get)

    x11 = problem({"DISPLAY": ":0"})
    assert x11 is not None and "xcb platform plugin" in x11 and "libxcb-icccm.so.4" in x11
    assert problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}) == x11
    # Chosen by the user, or not Linux: Qt's business.
    assert problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) is None
    assert problem({}, system="darwin") is None
    assert problem({}, system="win32") is None
    # On a Wayland desktop Qt uses the wayland plugin when it loads, X11 otherwise.
    assert problem({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) is None
    assert problem({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},
                   found={"xcb": broken, "wayland": broken}) == x11
    # A plugin that cannot be found is left to Qt rather than guessed at.
    assert problem({"DISPLAY": ":0"}, found={}) is None
    # Nothing to draw on.
    assert problem({}).startswith("no display: DISPLAY is not set")
    assert problem({"QT_QPA_PLATFORM": "wayland"}).startswith(
        "no display: WAYLAND_DISPLAY is not set")


def test_install_commands_per_system():
    missing = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    hint = platform_check.install_hint
    assert hint(missing, "debian") == (
        "install them with: sudo apt install libxcb-icccm4 libxcb-keysyms1")
    assert hint(missing, "fedora") == (
        "install them with: sudo dnf install xcb-util-wm xcb-util-keysyms")
    assert hint(missing, "arch") == (
        "install them with: sudo pacman -S xcb-util-wm xcb-util-keysyms")
    elsewhere = hint(missing, "unknown")
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in elsewhere
    assert platform_check.README_SECTION in elsewhere
    # Libraries not in the table follow each system's naming rule.
    assert hint(["libxcb-xinput.so.0"], "debian").endswith("apt install libxcb-xinput0")
    assert hint(["libxcb-xinput.so.0"], "fedora").endswith("dnf install libxcb")
    assert hint(["libfoo2.so.3"], "debian").endswith("apt install libfoo2-3")
    assert hint(["libfoo2.so.3"], "fedora").endswith("dnf install 'libfoo2.so.3()(64bit)'")


def test_the_readme_has_the_section_the_message_points_to():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Installing the desktop app" in readme or "### Installing the desktop app" in readme


@pytest.mark.parametrize(("os_release", "family"), [
    ('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n', "debian"),
    ('ID=debian\nVERSION_ID="12"\n', "debian"),
    ('ID=fedora\n', "fedora"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "fedora"),
    ('ID=manjaro\nID_LIKE=arch\n', "arch"),
    ('ID=alpine\n', "unknown"),
])
def test_the_system_family_comes_from_os_release(tmp_path, os_release, family):
    path = tmp_path / "os-release"
    path.write_text(os_release)
    assert platform_check._os_family(path) == family
    assert platform_check._os_family(tmp_path / "absent") == "unknown"


def test_a_pyside6_import_that_fails_on_a_system_library_says_what_to_install():
    error = ImportError("libEGL.so.1: cannot open shared object file: No such file or directory")
    message = platform_check.import_failure_message(error)
    assert message is not None and "libEGL.so.1" in message and "libegl1" in message
    assert platform_check.import_failure_message(ImportError("No module named 'PySide6'")) is None
