"""Project rules that keep the code healthy: import contracts and lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.photos import REPO_ROOT


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def test_import_contracts_hold():
    """The core never imports Qt or the shells; the app never imports train/; the core's
    stages and train/'s layers import only downwards; no two siblings import each other."""
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 6 kept, 0 broken" in result.stdout


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


# A fixture whose code calls one of these trains, builds or exports a model.
MODEL_BUILDERS = re.compile(r"\b(save_tiny_\w+|train_tiny_scorer|build_real_\w+|export_onnx"
                            r"|train_main)\(")


def test_the_fast_loop_uses_no_model_building_fixture():
    """`pytest -m "not slow"` is the fast loop: no test it selects uses a fixture that
    trains or builds a model (conftest marks users of the shared ones slow; a module's own
    model fixtures need the test or module marked). Collected in-process: cheap once the
    suite's modules are imported."""
    import inspect

    import pytest

    class Selected:
        def __init__(self):
            self.items = []

        def pytest_collection_finish(self, session):
            self.items = list(session.items)

    selected = Selected()
    code = pytest.main(["--collect-only", "-qq", "-m", "not slow", "-p", "no:cacheprovider",
                        str(REPO_ROOT / "tests")], plugins=[selected])
    assert code == 0 and selected.items
    offenders = sorted({f"{item.nodeid.split('[')[0]} uses {name}"
                        for item in selected.items
                        for name, defs in item._fixtureinfo.name2fixturedefs.items()
                        if MODEL_BUILDERS.search(inspect.getsource(defs[-1].func))})
    assert not offenders, "mark these slow:\n" + "\n".join(offenders)
