"""Writing files so that a crash never leaves half of one: the one owner of atomic writes.

Every writer goes through :func:`atomic_path`: the new content goes to a temporary file
in the target's folder, is flushed to disk, and replaces the target in one rename, so a
reader (or the next run after a crash) sees the old file or the new one, never a torn
write. The temporary file is removed on any failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int | None = None, durable: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; write it inside the ``with`` block.

    On a clean exit it is renamed over ``path``. When ``durable`` (the default) the file is
    fsynced first and the folder after, so the new content survives a power cut; caches
    that are cheap to rebuild pass ``durable=False`` to skip both. ``mode`` sets the new file's
    permissions (default: what the umask gives a new file); the temporary file stays private
    (0o600) until it gets them, so it is never readable by more than ``mode`` allows. Writers
    that need a file name (torch.save, ONNX export, safetensors) use the yielded path directly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _reserve_temporary(path, 0o666 if mode is None else 0o600)
    try:
        yield temporary
        if durable:
            _fsync_file(temporary)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if durable:
        _fsync_folder(path.parent)


def write_bytes_atomically(path: Path, data: bytes, *, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` in one rename (see :func:`atomic_path`)."""
    with atomic_path(path, mode=mode) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomically(path: Path, text: str) -> Path:
    """Replace ``path`` with UTF-8 ``text`` (newlines kept as given) in one rename."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def _reserve_temporary(path: Path, mode: int) -> Path:
    """A hidden, unused name in the same folder (a rename across file systems is not
    atomic); created empty with O_EXCL so two writers never share one, with ``mode``
    (less the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(temporary, flags, mode))
        except FileExistsError:
            continue
        return temporary
    raise FileExistsError(f"no free temporary name beside {path}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; not possible on Windows)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
