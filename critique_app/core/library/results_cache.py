"""A SQLite cache of per-photo results, so re-running ``critique score FOLDER`` is instant.

Keying
    A result is stored under ``(content_key, model_version)``. The content key names the
    file's *bytes* (SHA-256, first 20 bytes, of the whole file, plus its size), not its path:
    a renamed or moved photo still hits the cache, an edited one misses, and a new model
    version misses without forgetting the old version's results.

    Hashing every photo on every run would make re-runs slow, so the ``files`` table
    remembers ``path -> (size, mtime_ns, content_key)``. :meth:`ResultsCache.key_for` trusts
    that row while size and mtime are unchanged and re-hashes otherwise (like make or git).
    The file is stat-ed *before* it is read, so an edit during hashing leaves a stale mtime
    in the row and the next run hashes again. An edit that keeps both the size and the
    nanosecond mtime is not noticed; :func:`content_key` always hashes.

Crash safety
    The database runs in WAL mode with ``synchronous=NORMAL``: a commit is an append to the
    write-ahead log, readers never block the writer, and a process killed at any moment
    (even ``kill -9``) leaves the last committed state; after a power cut the newest few
    commits may be lost, but the file is never corrupt. Each :meth:`ResultsCache.put_many`
    call is one ``BEGIN IMMEDIATE ... COMMIT`` transaction, so a batch is stored whole or
    not at all, and rows are written with ``INSERT OR REPLACE`` on the primary key, so
    re-doing work that was in flight when a run died can never add duplicates. A resumed
    run asks :meth:`ResultsCache.get_many` what is already stored and computes the rest.

    Several processes may share the file: a busy timeout makes them wait for each other's
    write transactions instead of failing. A damaged file, a cache written by a newer
    Critique, or a cache that stays locked is reported as a one-line :class:`CritiqueError`.
    A :class:`ResultsCache` belongs to the thread that opened it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from critique_app.core.util.errors import CritiqueError, PhotoError

SCHEMA_VERSION = 1
CHUNK_SIZE = 1 << 20  # bytes read at a time while hashing
_MAX_VARIABLES = 500  # keys per SELECT ... IN (...), well under SQLite's limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    content_key   TEXT NOT NULL,
    model_version TEXT NOT NULL,
    result        TEXT NOT NULL,
    PRIMARY KEY (content_key, model_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    content_key TEXT NOT NULL
);
"""

Row = tuple[str, str, dict[str, Any]]


def content_key(path: str | os.PathLike[str]) -> str:
    """``"<first 160 bits of SHA-256, hex>-<size>"`` of the file's bytes, read 1 MiB at a
    time. SHA-256 rather than BLAKE2: CPUs with SHA extensions hash it 2-3x faster."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return f"{digest.hexdigest()[:40]}-{size}"


class ResultsCache:
    """Results of scoring photos, keyed by file content and model version.

    ``ResultsCache(path)`` creates the file (and its folders) if needed; use it as a
    context manager or call :meth:`close`. ``timeout`` is how many seconds to wait for
    another process's write transaction before giving up.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CritiqueError(f"cannot create the results cache folder ({exc.strerror})",
                                path=self.path.parent) from exc
        self._conn: sqlite3.Connection | None = None
        with self._errors():
            # isolation_level=None: no implicit transactions, we BEGIN and COMMIT ourselves.
            # timeout is SQLite's busy timeout: wait for other writers instead of failing.
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            try:
                self._open()
            except BaseException:
                self._conn.close()
                self._conn = None
                raise

    def _open(self) -> None:
        conn = self._connection
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CritiqueError(
                    f"results cache was written by a newer Critique (schema {version}, this "
                    f"one knows {SCHEMA_VERSION}); upgrade Critique or delete this file",
                    path=self.path)
            if version < SCHEMA_VERSION:
                # Version 0 is a new, empty file; later migrations go here, step by step.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; calling it again does nothing."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultsCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- file -> content key ----------------------------------------------------------

    def key_for(self, path: str | os.PathLike[str]) -> str:
        """The content key of ``path``, hashing only when its size or mtime changed."""
        name = str(Path(path).resolve())
        try:
            stat = os.stat(name)
        except OSError as exc:
            raise PhotoError(f"cannot read the file ({exc.strerror})", path=path) from exc
        stored = self._stored_key(name, stat)
        if stored is not None:
            return stored
        try:
            key = content_key(name)
        except OSError as exc:
            raise PhotoError(f"cannot read the file ({exc.strerror})", path=path) from exc
        self.remember_keys([(name, stat.st_size, stat.st_mtime_ns, key)])
        return key

    def known_key(self, path: str | os.PathLike[str]) -> str | None:
        """The stored content key when size and mtime are unchanged; None if it must be
        hashed (then hash elsewhere, e.g. on a worker thread, and :meth:`remember_keys`)."""
        name = str(Path(path).resolve())
        try:
            stat = os.stat(name)
        except OSError:
            return None
        return self._stored_key(name, stat)

    def _stored_key(self, name: str, stat: os.stat_result) -> str | None:
        with self._errors():
            row = self._connection.execute(
                "SELECT size, mtime_ns, content_key FROM files WHERE path = ?", (name,)
            ).fetchone()
        if row is not None and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return str(row[2])
        return None

    def remember_keys(self, entries: Sequence[tuple[str, int, int, str]]) -> None:
        """Store (resolved path, size, mtime_ns, content key) rows in one transaction."""
        if not entries:
            return
        with self._errors(), self._transaction():
            self._connection.executemany(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, content_key)"
                " VALUES (?, ?, ?, ?)", entries)

    # -- results ----------------------------------------------------------------------

    def get(self, content_key: str, model_version: str) -> dict[str, Any] | None:
        """The stored result, or None."""
        with self._errors():
            row = self._connection.execute(
                "SELECT result FROM results WHERE content_key = ? AND model_version = ?",
                (content_key, model_version)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_many(self, keys: Iterable[str], model_version: str) -> dict[str, dict[str, Any]]:
        """The stored results among ``keys``, as ``{content_key: result}``; misses are absent."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._errors():
            for start in range(0, len(wanted), _MAX_VARIABLES):
                chunk = wanted[start:start + _MAX_VARIABLES]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    "SELECT content_key, result FROM results"
                    f" WHERE model_version = ? AND content_key IN ({marks})",
                    (model_version, *chunk))
                found.update((key, json.loads(text)) for key, text in rows)
        return found

    def put_many(self, rows: Sequence[Row],
                 keys: Sequence[tuple[str, int, int, str]] = ()) -> None:
        """Store ``(content_key, model_version, result)`` rows in one transaction.

        A result is a JSON-serialisable dict; a row for an existing key replaces it.
        ``keys`` (as for :meth:`remember_keys`) go in the same transaction, so a run
        killed mid-way never leaves results that a rerun cannot find without hashing.
        """
        encoded = []
        for key, model_version, result in rows:
            if not isinstance(result, dict):
                raise TypeError(f"a result must be a dict, not {type(result).__name__}")
            encoded.append((key, model_version, json.dumps(result, separators=(",", ":"))))
        if not encoded and not keys:
            return
        with self._errors(), self._transaction():
            self._connection.executemany(
                "INSERT OR REPLACE INTO results (content_key, model_version, result)"
                " VALUES (?, ?, ?)", encoded)
            self._connection.executemany(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, content_key)"
                " VALUES (?, ?, ?, ?)", keys)

    def count(self, model_version: str) -> int:
        """How many results are stored for ``model_version``."""
        with self._errors():
            row = self._connection.execute(
                "SELECT count(*) FROM results WHERE model_version = ?",
                (model_version,)).fetchone()
        return int(row[0])

    def forget(self, model_version: str | None = None) -> int:
        """Delete the results of ``model_version`` (all results if None); returns how many.

        The path -> content key table is kept: it does not depend on any model.
        """
        with self._errors(), self._transaction():
            if model_version is None:
                cursor = self._connection.execute("DELETE FROM results")
            else:
                cursor = self._connection.execute(
                    "DELETE FROM results WHERE model_version = ?", (model_version,))
        return cursor.rowcount

    # -- plumbing ---------------------------------------------------------------------

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("the results cache is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (take the write lock now, waiting up to the busy timeout)."""
        conn = self._connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite failures a user can act on into a one-line CritiqueError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF  # primary result code
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                message = (f"results cache is damaged ({reason}); "
                           "delete this file and run again to rebuild it")
            elif code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                message = ("results cache is locked by another Critique process; "
                           "try again when it has finished")
            elif code == sqlite3.SQLITE_FULL:
                message = "the disk is full; cannot write the results cache"
            elif code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY,
                          sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR):
                message = f"cannot use the results cache ({reason})"
            else:
                raise
            raise CritiqueError(message, path=self.path) from exc
