"""The SQLite results cache: content keys, re-opening, concurrency and surviving kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from critique_app.core.library import results_cache as cache_module
from critique_app.core.library.results_cache import SCHEMA_VERSION, ResultsCache, content_key
from critique_app.core.util.errors import CritiqueError

MODEL = "aesthetic-1.0"


def _result(i: int) -> dict:
    return {"status": "ok", "error": None, "score": i / 7, "scores": [i, i + 0.5, -1.25],
            "label": f"photo {i}"}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _raw_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT content_key, model_version, result FROM results").fetchall()


def test_put_get_count_forget_and_reopen(tmp_path):
    db = tmp_path / "nested" / "folder" / "results.sqlite"  # parent folders are created
    rows = [(f"k{i}", MODEL, _result(i)) for i in range(20)]
    error = {"status": "error", "error": "cannot decode the photo", "score": None}
    with ResultsCache(db) as cache:
        cache.put_many(rows)
        cache.put_many([("k0", MODEL, error), ("k0", "other-2.0", _result(0))])  # replace
        cache.put_many([])
        assert cache.get("k0", MODEL) == error
        assert cache.get("k1", MODEL) == _result(1)
        assert cache.get("k1", "other-2.0") is None
        assert cache.count(MODEL) == 20 and cache.count("other-2.0") == 1
    assert cache._conn is None  # closed by the with block; close() again is harmless
    cache.close()

    with ResultsCache(db) as cache:  # re-open: same rows
        assert cache.get("k0", MODEL) == error
        found = cache.get_many([f"k{i}" for i in range(1000)] + ["k3"], MODEL)
        assert found == {f"k{i}": _result(i) for i in range(1, 20)} | {"k0": error}
        with pytest.raises(TypeError):
            cache.put_many([("k1", MODEL, ["not", "a", "dict"])])  # type: ignore[list-item]
        assert cache.forget("other-2.0") == 1
        assert cache.forget() == 20
        assert cache.count(MODEL) == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_results_and_their_file_keys_are_stored_by_one_call(tmp_path):
    """Folder scoring stores a batch's results and the keys of its files in one
    transaction (put_many with keys), so a run killed in between cannot leave results a
    rerun finds only by hashing every photo again."""
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"photo bytes")
    stat = photo.stat()
    with ResultsCache(tmp_path / "results.sqlite") as cache:
        key = content_key(photo)
        assert cache.known_key(photo) is None
        cache.put_many([(key, MODEL, _result(1))],
                       keys=[(str(photo.resolve()), stat.st_size, stat.st_mtime_ns, key)])
        assert cache.known_key(photo) == key and cache.get(key, MODEL) == _result(1)


def test_content_key_is_sha256_of_the_bytes_plus_size(tmp_path):
    import hashlib

    data = os.urandom(3 * (1 << 20) + 123)  # several chunks and a partial one
    photo = _write(tmp_path / "a.jpg", data)
    expected = hashlib.sha256(data).hexdigest()[:40]
    assert content_key(photo) == f"{expected}-{len(data)}"
    assert content_key(_write(tmp_path / "empty.jpg", b"")).endswith("-0")


def test_renamed_file_hits_and_edited_file_misses(tmp_path, monkeypatch):
    hashed: list[str] = []

    def counting_key(path):
        hashed.append(str(path))
        return content_key(path)

    monkeypatch.setattr(cache_module, "content_key", counting_key)
    photo = _write(tmp_path / "a.jpg", b"A" * 5000)
    with ResultsCache(tmp_path / "results.sqlite") as cache:
        key = cache.key_for(photo)
        cache.put_many([(key, MODEL, _result(1))])
        assert cache.key_for(photo) == key and len(hashed) == 1  # unchanged: not re-hashed

        moved = tmp_path / "sub" / "renamed.jpg"
        moved.parent.mkdir()
        photo.rename(moved)
        assert cache.key_for(moved) == key  # new path is hashed once, content matches
        assert cache.get(cache.key_for(moved), MODEL) == _result(1)
        assert len(hashed) == 2

        # Same size, different bytes, newer mtime: a miss.
        stat = moved.stat()
        _write(moved, b"B" * 5000)
        os.utime(moved, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        edited = cache.key_for(moved)
        assert edited != key and cache.get(edited, MODEL) is None
        assert len(hashed) == 3

        # Touched but not changed: hashed again, same key.
        stat = moved.stat()
        os.utime(moved, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        assert cache.key_for(moved) == edited
        assert len(hashed) == 4
        assert cache.key_for(moved) == edited and len(hashed) == 4


def test_missing_file_is_a_critique_error(tmp_path):
    with ResultsCache(tmp_path / "results.sqlite") as cache, pytest.raises(CritiqueError):
        cache.key_for(tmp_path / "gone.jpg")


def test_reader_and_writer_share_the_file(tmp_path):
    """WAL: a writer commits while another connection holds a read snapshot, and
    readers in other connections see each commit without ever waiting or failing."""
    db = tmp_path / "results.sqlite"
    with ResultsCache(db, timeout=1.0) as writer, ResultsCache(db, timeout=1.0) as reader:
        writer.put_many([("k0", MODEL, _result(0))])
        snapshot = sqlite3.connect(db, isolation_level=None)
        snapshot.execute("BEGIN")
        assert snapshot.execute("SELECT count(*) FROM results").fetchone()[0] == 1
        writer.put_many([("k1", MODEL, _result(1))])  # would be SQLITE_BUSY without WAL
        assert reader.get("k1", MODEL) == _result(1)
        assert snapshot.execute("SELECT count(*) FROM results").fetchone()[0] == 1
        snapshot.execute("COMMIT")
        snapshot.close()

    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            with ResultsCache(db, timeout=5.0) as cache:
                for i in range(2, 202):
                    cache.put_many([(f"k{i}", MODEL, _result(i))])
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = []
    with ResultsCache(db, timeout=5.0) as reader:
        while not done.is_set():
            seen.append(reader.count(MODEL))
        thread.join()
        assert not errors
        assert seen == sorted(seen)  # counts only ever grow
        assert reader.count(MODEL) == 202
        assert reader.get_many([f"k{i}" for i in range(202)], MODEL)["k201"] == _result(201)


_WORKER = """
import sys
from critique_app.core.library.results_cache import ResultsCache

BATCHES, PER_BATCH = 100_000, 5
with ResultsCache(sys.argv[1]) as cache:
    for i in range(BATCHES):
        keys = [f"key-{i}-{j}" for j in range(PER_BATCH)]
        if len(cache.get_many(keys, "m1")) == PER_BATCH:
            continue  # resumed run: already stored, recompute nothing
        rows = [(key, "m1", {"status": "ok", "batch": i, "j": j, "pad": "x" * 3000,
                             "scores": [i * 0.5, j]}) for j, key in enumerate(keys)]
        cache.put_many(rows)
        print(i, flush=True)
"""


def _run_and_kill(script: Path, db: Path, commits: int, delay: float) -> list[int]:
    """Start the worker, SIGKILL it ``delay`` s after it reported ``commits`` commits."""
    process = subprocess.Popen([sys.executable, str(script), str(db)],
                               stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            committed.append(int(line))
            if len(committed) >= commits:
                break
        time.sleep(delay)  # vary where in its loop the worker dies
    finally:
        os.kill(process.pid, signal.SIGKILL)  # mid-write, most likely
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    assert len(committed) == commits, "the worker died before committing enough"
    return committed


def test_kill_9_mid_write_loses_nothing_committed(tmp_path):
    script = _write(tmp_path / "worker.py", _WORKER.encode())
    db = tmp_path / "results.sqlite"

    reported: list[int] = []
    for delay in (0.0, 0.001, 0.003, 0.007):
        committed = _run_and_kill(script, db, commits=30, delay=delay)
        # A resumed run skips everything stored before and carries on from there.
        assert committed[0] >= len(reported) and set(committed).isdisjoint(reported)
        reported += committed
    assert reported[:30] == list(range(30))

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = _raw_rows(db)
    pairs = [(key, model) for key, model, _ in rows]
    assert len(pairs) == len(set(pairs))  # no duplicates
    batches: dict[int, set[int]] = {}
    for key, _model, text in rows:
        result = json.loads(text)  # every row is intact JSON
        assert key == f"key-{result['batch']}-{result['j']}"
        assert result["pad"] == "x" * 3000 and result["scores"] == [result["batch"] * 0.5,
                                                                    result["j"]]
        batches.setdefault(result["batch"], set()).add(result["j"])
    assert all(js == set(range(5)) for js in batches.values())  # whole transactions only
    assert set(reported) <= set(batches)  # every reported commit survived
    assert sorted(batches) == list(range(len(batches)))  # no holes: a clean resume point

    with ResultsCache(db) as cache:  # and carrying on works
        stored = cache.count("m1")
        cache.put_many([("key-new", "m1", _result(1)), ("key-0-0", "m1", _result(2))])
        assert cache.count("m1") == stored + 1
        assert cache.get("key-0-0", "m1") == _result(2)


def test_random_bytes_are_a_one_line_error_suggesting_delete(tmp_path):
    db = _write(tmp_path / "results.sqlite", os.urandom(4096))
    with pytest.raises(CritiqueError) as info:
        ResultsCache(db)
    message = str(info.value)
    assert "\n" not in message and "delete" in message and str(db) in message


def test_damaged_pages_are_a_critique_error(tmp_path):
    db = tmp_path / "results.sqlite"
    with ResultsCache(db) as cache:
        cache.put_many([(f"k{i}", MODEL, _result(i) | {"pad": "y" * 2000}) for i in range(50)])
    with sqlite3.connect(db) as conn:  # fold the WAL into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # keep only the 100-byte header
    db.write_bytes(bytes(data))
    with pytest.raises(CritiqueError) as info, ResultsCache(db) as cache:  # either may notice
        cache.get_many([f"k{i}" for i in range(50)], MODEL)
        cache.count(MODEL)
    assert "\n" not in str(info.value) and "delete" in str(info.value)


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "results.sqlite"
    ResultsCache(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CritiqueError, match="newer Critique") as info:
        ResultsCache(db)
    assert "\n" not in str(info.value)
