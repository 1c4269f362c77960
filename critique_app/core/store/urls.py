"""Fetching one file from a URL (e.g. a model head committed to GitHub), checked by hash.

The file is streamed in chunks into the staging folder and hashed as it arrives; the
cancel event is checked between chunks. A download that stops short, or whose size or
SHA-256 differs from the manifest's, raises a one-line :class:`ModelError` and leaves
nothing installed (the store discards the staging folder).

``CRITIQUE_URL_MIRROR`` (read at pull time): a base URL that replaces the scheme and host
of every URL source, e.g. ``https://mirror.example.org/github`` turns
``https://github.com/a/b/raw/c/f.pth`` into ``https://mirror.example.org/github/a/b/raw/c/f.pth``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from critique_app.core.store.manifest import ModelFile
from critique_app.core.util.errors import ModelError, check_cancelled

MIRROR_ENV = "CRITIQUE_URL_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = "critique-model-store (+urllib)"
Progress = Callable[[int], None]  # bytes received since the last call


def resolve_url(url: str) -> str:
    """``url``, or the same path on the mirror named by ``CRITIQUE_URL_MIRROR``."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return url
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return mirror.rstrip("/") + tail


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


def fetch_url(url: str, file: ModelFile, staging: Path, report: Callable[[str], None], *,
              cancel=None, received: Progress | None = None) -> dict:
    """Download ``url`` into ``staging / file.path``; returns facts for the install record."""
    where = resolve_url(url)
    host = host_of(where)
    name = Path(file.path).name
    report(f"downloading {name} from {host}")
    target = staging / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    expected = file.size
    request = urllib.request.Request(where, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, \
                open(target, "wb") as out:
            length = response.headers.get("Content-Length")
            announced = int(length) if length and length.isdigit() else None
            if expected is None:
                expected = announced
            while True:
                check_cancelled(cancel)
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                if received is not None:
                    received(len(block))
    except urllib.error.HTTPError as error:
        raise ModelError(f"{host} answered HTTP {error.code} for {name} ({error.reason}); "
                         "nothing was installed") from None
    except (http.client.IncompleteRead, ConnectionError, TimeoutError) as error:
        why = type(error).__name__
        raise ModelError(f"the download of {name} from {host} was cut off after "
                         f"{_size(done)}{_of(expected)} ({why}); nothing was installed: "
                         "pull again to retry") from None
    except urllib.error.URLError as error:
        reason = getattr(error, "reason", error)
        raise ModelError(f"could not reach {host} for {name}: {reason} (check the connection, "
                         f"or {MIRROR_ENV}); nothing was installed") from None
    except (OSError, http.client.HTTPException) as error:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"the download of {name} from {host} failed after {_size(done)}: "
                         f"{why}; nothing was installed") from None
    if expected is not None and done < expected:
        raise ModelError(f"the download of {name} from {host} was cut off after "
                         f"{_size(done)}{_of(expected)}; nothing was installed: pull again "
                         "to retry")
    sha256 = digest.hexdigest()
    if (file.sha256 and sha256 != file.sha256) or (file.size is not None and done != file.size):
        raise ModelError(f"{name} from {host} does not match the manifest's hash (got sha256 "
                         f"{sha256[:12]}…, {done} bytes); nothing was installed")
    return {"url": url, **({"fetched_from": where} if where != url else {}), "sha256": sha256,
            "size": done}


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _of(total: int | None) -> str:
    return f" of {_size(total)}" if total else ""
