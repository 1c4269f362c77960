"""Project rules that keep the code healthy: import contracts and lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.photos import REPO_ROOT


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def test_import_contracts_hold():
    """The core never imports Qt or the shells; the app never imports train/."""
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_imports_without_qt_or_torch():
    """Loading and analysing a photo must not pull in Qt, nor torch until depth needs it."""
    code = ("import sys; import critique_app.core.analysis.analyzer; "
            "bad = [m for m in ('PySide6', 'torch', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_resources_are_found():
    from critique_app.core.util.paths import resource_path

    assert resource_path("samples", "rocket.jpg").is_file()
