"""Writing one edited sidecar: atomically, only if unchanged since read, permissions kept."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_bytes_atomically


def write_sidecar(path: Path, data: bytes, read: os.stat_result | None) -> None:
    """Replace ``path`` with ``data`` in one rename; the old file stays intact on failure.

    ``read`` is the sidecar's stat when it was read (None: it did not exist); if another
    program has written it since, nothing is written. A symlink is written through to its
    target. An existing sidecar keeps its permission bits; a new one gets what the umask
    gives any new file.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        _check_unchanged_since_read(path, read)
        if not target.parent.is_dir():  # atomic writes create folders; a sidecar never does
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        mode = None if read is None else stat.S_IMODE(read.st_mode)
        write_bytes_atomically(target, data, mode=mode)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CritiqueError(f"could not write the sidecar ({reason})", path=path) from None


def _check_unchanged_since_read(path: Path, read: os.stat_result | None) -> None:
    """Another program (darktable, a sync client) may have written it meanwhile."""
    try:
        now = path.stat()
    except FileNotFoundError:
        now = None
    same = (now is None and read is None) or (
        now is not None
        and read is not None
        and (now.st_mtime_ns, now.st_size, now.st_ino)
        == (read.st_mtime_ns, read.st_size, read.st_ino)
    )
    if not same:
        raise CritiqueError("the sidecar changed while it was being updated", path=path)
