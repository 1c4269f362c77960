"""Frozen image embeddings for training small heads: computed once per photo, cached on disk.

``python -m train score|personal --backbone clip-vit-l14`` trains a head on CLIP ViT-L/14
image embeddings. The backbone is the installed ``laion-aesthetic-v2`` model's
``backbone/`` (or ``--backbone-dir``, a ``save_pretrained`` CLIP folder). Each photo is
decoded as the app decodes it, cropped as the LAION scorer crops it (shorter side 224,
bicubic, centre square, CLIP's mean and std) and embedded; the embedding is
L2-normalised. On a GPU the pass runs under fp16 autocast (a 2080 Ti has no bf16).

The cache (:class:`EmbeddingCache`, one SQLite file) keys an embedding by the photo's
content (SHA-256 of the file) and the backbone's version, so a renamed or copied photo is
not embedded again and a different backbone never reuses another's vectors; a second
table remembers each file's hash by path, size and modification time, so a rerun hashes
nothing and loads no backbone when every photo is cached.

Nothing here is CLIP-specific except :class:`ClipEmbedder` and
:func:`resolve_clip_backbone`: any ``embed(batch) -> (B, D)`` with a version string works.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from critique_app.core.scoring.pretrained import clip_head
from critique_app.core.util.errors import CritiqueError, ModelError
from critique_app.core.util.paths import data_dir
from train import interrupt

CLIP_BACKBONES = (clip_head.BACKBONE,)
EMBED_VERSION = "photo-analysis-size+crop-bicubic-1"  # how a photo becomes the input
CACHE_FILE = "embeddings.sqlite"


def default_cache_dir() -> Path:
    return data_dir() / "embeddings"


@dataclass(frozen=True)
class FeatureBackbone:
    """A frozen backbone to embed photos with."""

    name: str  # e.g. "clip-vit-l14"
    folder: Path  # its weights
    version: str  # names the weights and the preprocessing: part of every cache key
    model: str | None  # the store model it comes from (the exported head names it)
    digest: str | None  # the store's digest of its files (None for a --backbone-dir)
    dimension: int = clip_head.EMBEDDING


def missing_clip_message() -> str:
    model = clip_head.BACKBONE_MODEL
    return (f"the CLIP ViT-L/14 backbone is not installed: run 'critique models pull {model}' "
            "(or give --backbone-dir, a CLIP folder saved with save_pretrained)")


def resolve_clip_backbone(backbone_dir: Path | None = None, store=None) -> FeatureBackbone:
    """The CLIP backbone to embed with: ``backbone_dir`` or the installed LAION model's."""
    if backbone_dir is not None:
        folder = Path(backbone_dir)
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder} is not a CLIP folder saved with save_pretrained (no "
                             "config.json)")
        version = f"dir:{_folder_digest(folder)}"
        return FeatureBackbone(clip_head.BACKBONE, folder, f"{version}|{EMBED_VERSION}",
                               clip_head.BACKBONE_MODEL, None)
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    try:
        folder = clip_head.backbone_folder(store)
    except ModelError:
        raise ModelError(missing_clip_message()) from None
    digest = clip_head.backbone_digest(store)
    return FeatureBackbone(clip_head.BACKBONE, folder, f"store:{digest}|{EMBED_VERSION}",
                           clip_head.BACKBONE_MODEL, digest)


def _folder_digest(folder: Path) -> str:
    """A folder's config (hashed) and weight files (name, size, modification time): cheap,
    and it changes when the weights are replaced."""
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for path in sorted(folder.iterdir()):
        if path.suffix in (".safetensors", ".bin") and path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


class ClipEmbedder:
    """CLIP's vision tower: (B, 3, 224, 224) normalised inputs -> (B, 768) unit vectors."""

    def __init__(self, backbone: FeatureBackbone, hardware) -> None:
        import torch

        from critique_app.core.scoring.pretrained.laion import load_backbone

        self.device = hardware.device
        self.fp16 = self.device == "cuda"  # fp16 autocast on any GPU (a 2080 Ti: no bf16)
        self.vision = load_backbone(backbone.folder).to(self.device).eval()
        self._torch = torch

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        images = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            if self.fp16:
                with torch.autocast("cuda", dtype=torch.float16):
                    embeds = self.vision(pixel_values=images).image_embeds
            else:
                embeds = self.vision(pixel_values=images).image_embeds
            embeds = torch.nn.functional.normalize(embeds.float(), dim=-1)
        return embeds.cpu().numpy()


def photo_input(path: Path) -> np.ndarray:
    """float32 (3, 224, 224): the photo as the app decodes it, cropped and normalised as the
    LAION scorer's input."""
    from critique_app.core.photo import load_photo
    from critique_app.core.scoring.preprocess import to_network_input

    return to_network_input(load_photo(path).pixels, clip_head.INPUT)


class EmbeddingCache:
    """Embeddings by (photo content, backbone version) in one SQLite file; ``folder`` None:
    nothing is kept."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self._db: sqlite3.Connection | None = None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.folder / CACHE_FILE)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS files (stat_key TEXT PRIMARY KEY, "
                             "sha256 TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (sha256 TEXT NOT NULL, "
                             "backbone TEXT NOT NULL, vector BLOB NOT NULL, "
                             "PRIMARY KEY (sha256, backbone))")
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @staticmethod
    def _stat_key(path: Path) -> str:
        stat = path.stat()
        return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def content_key(self, path: Path) -> str:
        """The SHA-256 of the photo's bytes (remembered by path, size and time)."""
        path = Path(path)
        stat_key = self._stat_key(path)
        if self._db is not None:
            found = self._db.execute("SELECT sha256 FROM files WHERE stat_key = ?",
                                     (stat_key,)).fetchone()
            if found:
                return found[0]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        key = digest.hexdigest()
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", (stat_key, key))
        return key

    def get(self, keys: Sequence[str], version: str) -> dict[str, np.ndarray]:
        if self._db is None:
            return {}
        found = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                    f"SELECT sha256, vector FROM embeddings WHERE backbone = ? AND sha256 IN "
                    f"({marks})", (version, *chunk)):
                found[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put(self, vectors: dict[str, np.ndarray], version: str) -> None:
        if self._db is None:
            return
        self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                             [(key, version, np.asarray(v, np.float32).tobytes())
                              for key, v in vectors.items()])
        self._db.commit()

    def commit(self) -> None:
        if self._db is not None:
            self._db.commit()


@dataclass
class Embedded:
    """Embeddings of photos, by path; ``failures`` lists (path, why) of those left out."""

    vectors: dict[Path, np.ndarray]
    failures: list[tuple[Path, str]]
    cached: int  # how many came from the cache
    computed: int
    seconds: float


def embed_photos(paths: Sequence[Path], backbone: FeatureBackbone, cache: EmbeddingCache,
                 progress, *, make_embedder: Callable[[], Callable[[np.ndarray], np.ndarray]],
                 batch_size: int = 16, workers: int = 2,
                 load_input: Callable[[Path], np.ndarray] = photo_input) -> Embedded:
    """Every photo's embedding: from the cache, or decoded (``workers`` threads, the next
    batch while this one runs) and embedded ``batch_size`` at a time. The backbone is made
    (``make_embedder``) only when a photo needs it. Progress: a ``start`` event for the
    embedding pass, a ``step`` per batch, and a log line that says how many were cached."""
    started = time.perf_counter()
    unique = list(dict.fromkeys(Path(p) for p in paths))
    keys: dict[Path, str] = {}
    failures: list[tuple[Path, str]] = []
    for path in unique:
        try:
            keys[path] = cache.content_key(path)
        except OSError as error:
            failures.append((path, f"{path.name} cannot be read ({error.strerror or error})"))
    cache.commit()
    found = cache.get(list(keys.values()), backbone.version)
    vectors = {path: found[key] for path, key in keys.items() if key in found}
    todo = [path for path in keys if path not in vectors]
    cached = len(vectors)
    if todo:
        _compute(todo, keys, vectors, failures, backbone, cache, progress,
                 make_embedder=make_embedder, batch_size=batch_size, workers=workers,
                 load_input=load_input)
    seconds = time.perf_counter() - started
    computed = len(vectors) - cached
    progress.log(f"{backbone.name} embeddings of {len(vectors)} photos: {cached} from the "
                 f"cache, {computed} computed ({seconds:.1f} s)"
                 + (f"; {len(failures)} unreadable" if failures else ""))
    return Embedded(vectors, failures, cached, computed, seconds)


def _compute(todo, keys, vectors, failures, backbone, cache, progress, *, make_embedder,
             batch_size, workers, load_input) -> None:
    batches = [todo[i:i + batch_size] for i in range(0, len(todo), max(1, batch_size))]
    embedder = make_embedder()
    progress.start(f"embed ({backbone.name})", len(batches), 1,
                   {"photos": len(todo), "batch_size": batch_size, "backbone": backbone.name,
                    "backbone_version": backbone.version}, {"device": getattr(
                        embedder, "device", "cpu")})

    def decode(path: Path):
        try:
            return load_input(path)
        except CritiqueError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending = [pool.submit(decode, p) for p in batches[0]]
        for index, batch in enumerate(batches):
            inputs = [future.result() for future in pending]
            if index + 1 < len(batches):  # decode the next batch while this one is embedded
                pending = [pool.submit(decode, p) for p in batches[index + 1]]
            good = []
            for path, item in zip(batch, inputs, strict=True):
                if isinstance(item, CritiqueError):
                    failures.append((path, str(item)))
                else:
                    good.append((path, item))
            if good:
                embeds = embedder(np.stack([item for _, item in good]))
                fresh = {keys[path]: vector for (path, _), vector in zip(good, embeds,
                                                                           strict=True)}
                cache.put(fresh, backbone.version)
                vectors.update({path: vector for (path, _), vector in zip(good, embeds,
                                                                            strict=True)})
            progress.step(index + 1, (index + 1) / len(batches), None, None,
                          photos_done=min(len(todo), (index + 1) * batch_size))
            interrupt.check()  # a Ctrl-C whose exception a finaliser swallowed
