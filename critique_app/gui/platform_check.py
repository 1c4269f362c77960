"""Can Qt open a window here? Checked before the QApplication exists.

On Linux, Qt draws through a platform plugin (``xcb`` for X11, ``wayland``)
whose system libraries are not part of the PySide6 wheel. When one is missing,
Qt prints a misleading hint ("xcb-cursor0 ... is needed") and aborts the
process. This module finds out first, without importing Qt, and says in one
line which libraries are missing and how to install them. It also notices
when there is no display at all.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

README_SECTION = "README, 'Installing the desktop app'"
_PLUGIN_FILES = {"xcb": "libqxcb.so", "wayland": "libqwayland.so"}
_DISPLAY_VARIABLES = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY"}

# soname -> (Debian/Ubuntu, Fedora, Arch) package. The Debian names are the ones
# checked on Debian 12 with PySide6 6.11 (README); unlisted sonames follow the
# Debian naming rule.
_PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
}
_LIBXCB = ("libxcb", "libxcb")  # Fedora's and Arch's libxcb carries every libxcb-<ext>.so


def display_problem(
    environ: Mapping[str, str] | None = None,
    *,
    system: str | None = None,
    plugin_path: Callable[[str], Path | None] | None = None,
) -> str | None:
    """One line saying why Qt cannot open a window here, or None when it can (or may).

    Only what is known for sure is reported: a plugin that cannot be found, or
    a platform this module does not know, is left to Qt.
    """
    environ = os.environ if environ is None else environ
    system = sys.platform if system is None else system
    plugin_path = plugin_path or (lambda name: find_platform_plugin(name, environ))
    if not system.startswith("linux"):
        return None  # macOS and Windows plugins ship inside the wheel
    platforms = _platforms_qt_will_try(environ)
    if platforms is None:
        return None  # offscreen, vnc, eglfs ...: chosen by the user, not ours to judge
    reachable = [name for name in platforms if environ.get(_DISPLAY_VARIABLES[name])]
    if not reachable:
        return no_display_message(platforms)
    failures: dict[str, list[str]] = {}
    for name in reachable:
        plugin = plugin_path(name)
        if plugin is None:
            return None
        missing = missing_libraries(plugin)
        if not missing:
            return None
        failures[name] = missing
    name = "xcb" if "xcb" in failures else next(iter(failures))
    return missing_libraries_message(name, failures[name], _os_family())


def _platforms_qt_will_try(environ: Mapping[str, str]) -> list[str] | None:
    """The window-system plugins Qt tries, in order; None for any other choice."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if not chosen:
        # Qt 6 tries Wayland first when a compositor is advertised, then X11.
        return ["wayland", "xcb"] if environ.get("WAYLAND_DISPLAY") else ["xcb"]
    names = [part.split(":")[0].strip() for part in chosen.split(";") if part.strip()]
    names = ["wayland" if name.startswith("wayland") else name for name in names]
    if not names or any(name not in _PLUGIN_FILES for name in names):
        return None
    return list(dict.fromkeys(names))


def no_display_message(platforms: list[str]) -> str:
    variables = " and ".join(_DISPLAY_VARIABLES[name] for name in reversed(platforms))
    return (
        f"no display: {variables} {'is' if len(platforms) == 1 else 'are'} not set, so the "
        "desktop app has no screen to open its window on (start it from a desktop session or "
        "over ssh -X; run with QT_QPA_PLATFORM=offscreen for a headless test; the command-line "
        "tools - critique analyze, score, critique - need no display)"
    )


def missing_libraries_message(platform: str, missing: list[str], family: str) -> str:
    return (
        f"the desktop app cannot open a window: Qt's {platform} platform plugin needs system "
        f"libraries that are not installed ({', '.join(missing)}); "
        f"{install_hint(missing, family)}"
    )


def install_hint(missing: list[str], family: str) -> str:
    """The command that installs the packages providing ``missing`` on this system."""
    if family == "fedora":
        packages = [_package(soname, 1) for soname in missing]
        return f"install them with: sudo dnf install {' '.join(dict.fromkeys(packages))}"
    if family == "arch":
        packages = [_package(soname, 2) for soname in missing]
        return f"install them with: sudo pacman -S {' '.join(dict.fromkeys(packages))}"
    packages = [_package(soname, 0) for soname in missing]
    command = f"sudo apt install {' '.join(dict.fromkeys(packages))}"
    if family == "debian":
        return f"install them with: {command}"
    return f"on Debian/Ubuntu: {command} (other systems: see {README_SECTION})"


def _package(soname: str, column: int) -> str:
    if soname in _PACKAGES:
        return _PACKAGES[soname][column]
    if column and soname.startswith("libxcb"):
        return _LIBXCB[column - 1]
    if column == 1:
        return f"'{soname}()(64bit)'"  # dnf installs whatever provides the soname
    if column == 2:
        return soname.split(".so")[0].removeprefix("lib")
    # Debian policy: package = library name + soversion, with '-' when the name ends in a digit.
    match = re.fullmatch(r"(.+?)\.so\.(\d+)(?:\..*)?", soname)
    if match is None:
        return soname
    name, version = match.groups()
    return f"{name.lower()}{'-' if name[-1].isdigit() else ''}{version}"


def _os_family(os_release: Path = Path("/etc/os-release")) -> str:
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return "unknown"
    fields = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    words = set((fields.get("id", "") + " " + fields.get("id_like", "")).replace('"', "").split())
    if words & {"debian", "ubuntu"}:
        return "debian"
    if words & {"fedora", "rhel", "centos"}:
        return "fedora"
    if words & {"arch"}:
        return "arch"
    return "unknown"


def find_platform_plugin(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The platform plugin file Qt would load for ``name`` (xcb, wayland), if found."""
    environ = os.environ if environ is None else environ
    filename = _PLUGIN_FILES[name]
    folders = [Path(p) for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep)
               if p]
    folders += [Path(p) / "platforms" for p in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep)
                if p]
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.origin:
        folders.append(Path(spec.origin).parent / "Qt" / "plugins" / "platforms")
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    return None


def missing_libraries(library: Path) -> list[str]:
    """Shared libraries that ``library`` needs and the dynamic loader cannot find.

    ``ldd`` lists all of them at once; without it, loading the library names the
    first one.
    """
    ldd = shutil.which("ldd")
    if ldd is not None:
        try:
            listing = subprocess.run([ldd, str(library)], capture_output=True, text=True,
                                     timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            listing = None
        if listing is None or listing.returncode != 0:
            return []  # not something ldd can read: leave the verdict to Qt
        found = re.findall(r"^\s*(\S+) => not found", listing.stdout, flags=re.MULTILINE)
        return list(dict.fromkeys(found))
    try:
        ctypes.CDLL(str(library))
    except OSError as error:
        first = re.match(r"([^:\s]+\.so[^:\s]*): cannot open shared object file", str(error))
        return [first.group(1) if first else str(error)]
    return []


def import_failure_message(error: ImportError) -> str | None:
    """One line for a PySide6 import that failed on a missing system library."""
    found = re.search(r"([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file", str(error))
    if found is None:
        return None
    return (f"the desktop app cannot start: Qt needs the system library {found.group(1)}, "
            f"which is not installed; {install_hint([found.group(1)], _os_family())}")
