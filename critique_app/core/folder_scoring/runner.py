"""Score a folder of photos: parallel draft decoding, batched models, a resumable cache.

Flow: every photo's content key is looked up in the cache (no hashing when
size and mtime are unchanged); stored results are reused. The rest go to
``jobs`` worker threads that hash, decode (JPEG draft at ``max_side``) and
analyse them; the main thread runs the score models on batches and commits
each batch to the cache in one transaction. At most a few batches are in
flight, so memory stays flat however large the folder. A cancel (Ctrl-C)
stops submitting, keeps everything committed, and returns what is done.

A ``frame_step`` (culling's frame facts) rides on the same decode: its facts are stored
under their own version in the same transaction as the batch's score rows, so a later
``critique score`` and a cull share the score rows; a photo whose score row is cached
but whose facts are not is decoded once for the facts alone. A frame step that names the
photo model's embedding (``embedding_model``) gets each photo's from the forward pass that
scores it (``score_and_embed``): no second pass, except for those facts-only photos.

``lean`` (culling): a photo with no cached score row is not analysed and gets no score row;
it is decoded for the frame step alone and the photo model's score, from the same forward
pass as its embedding, goes into its facts ("score"). Its row (path, status, score_mean) is
made from them and not stored: culling skips the measurement columns it never reads. A photo
that cannot be read is stored as an error row either way (its bytes decide that).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.folder_scoring.columns import COLUMNS_VERSION, MEASUREMENT_COLUMNS
from critique_app.core.library.results_cache import ResultsCache, content_key
from critique_app.core.maps import find_depth_model
from critique_app.core.maps.depth import files_signature
from critique_app.core.photo import load_photo
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.scoring.scorer import ScorerSet
from critique_app.core.scoring.speed import MIN_PHOTOS, record_speed
from critique_app.core.util.errors import CritiqueError

CULLING_MAX_SIDE = 720  # analysis size for culling; lets a 24 MP JPEG decode at 1/8 scale

Progress = Callable[[int, int, dict[str, int]], None]  # (done, total, counts)
log = logging.getLogger("critique.folder_scoring")


class FrameStep(Protocol):
    """Per-photo work that shares scoring's decode (culling's frame facts).

    ``compute`` runs on a worker thread with the decoded photo and, when the photo was
    scored in this run, its measurement columns (else None); it returns a JSON-serialisable
    dict. ``finish(dicts, embeddings)`` (optional) runs on the main thread with each batch's
    dicts before they are stored, with the photo model's (D,) embedding of each (or None
    each, when the step's ``embedding_model`` (optional) is not the photo model's).
    ``version`` names what the dicts depend on (the embedding model included): it keys
    them in the results cache.
    """

    version: str

    def compute(self, photo, path: Path, measured: dict | None) -> dict: ...


@dataclass
class _Prepared:
    index: int
    key: str
    # (resolved path, size, mtime_ns) when the key was hashed here, for the cache's files table
    stat: tuple[str, int, int] | None
    values: dict
    inputs: dict[str, np.ndarray]
    depth_problem: str | None = None  # why a depth scorer had no depth map to score
    scored: bool = True  # False: decoded for the frame step only (score row was cached)
    facts: dict | None = None  # the frame step's dict, when it ran
    facts_error: str | None = None  # why the frame step failed on a photo that scored
    lean: bool = False  # no score row exists or is made: the facts carry the photo score
    embedding: np.ndarray | None = None  # the photo model's, when the frame step wants it


@dataclass
class _Failed:
    index: int
    key: str | None
    message: str
    cacheable: bool  # a photo error depends only on the bytes; a bug does not
    scored: bool = True  # False: only the frame step was wanted (the score row is cached)


@dataclass
class FolderScoringResult:
    """What scoring a folder's photos gave: a row per photo and how each was got."""

    rows: list[dict | None]  # in the order of the paths; None where not reached (cancelled)
    cached: int = 0  # served from the results cache
    computed: int = 0  # scored in this run
    failed: int = 0  # could not be read as photos (in this run or an earlier one)
    cancelled: bool = False
    model_version: str = ""
    depth_missing: list[str] = field(default_factory=list)  # why depth scores are empty
    scores_missing: str | None = None  # why every score is empty (no score model to use)
    # store name -> [seconds in the model, photos it scored] in this run
    model_seconds: dict[str, list] = field(default_factory=dict)
    # With a frame step: its dict per path (None where failed or not reached), how each was
    # got, and why one could not be made for a photo whose score row is fine
    facts: list[dict | None] | None = None
    facts_cached: int = 0
    facts_computed: int = 0
    facts_errors: dict[int, str] = field(default_factory=dict)


def score_photos(paths: list[Path], *, cache: ResultsCache, scorers: ScorerSet, jobs: int = 2,
                 batch_size: int = 16, max_side: int = CULLING_MAX_SIDE, cancel=None,
                 progress: Progress | None = None,
                 frame_step: FrameStep | None = None, lean: bool = False) -> FolderScoringResult:
    if lean and frame_step is None:
        raise ValueError("lean scoring is for a frame step's photos")
    needs_depth = "depth" in scorers.by_modality
    # With a depth scorer the depth model shapes the results too: a new (or newly
    # installed) one must not be answered from the cache.
    version = f"{scorers.version}|analysis-{max_side}|columns-{COLUMNS_VERSION}" + (
        f"|depth-{depth_model_version()}" if needs_depth else "")
    result = FolderScoringResult([None] * len(paths), model_version=scorers.version,
                                 scores_missing=scorers.missing)
    known = {i: cache.known_key(p) for i, p in enumerate(paths)}
    stored = cache.get_many({k for k in known.values() if k}, version)
    facts_version = f"{frame_step.version}|analysis-{max_side}" if frame_step else ""
    if frame_step:  # the facts carry the photo model's score
        facts_version += f"|score-{scorers.photo.version if scorers.photo else 'none'}"
    stored_facts = cache.get_many({k for k in known.values() if k}, facts_version) \
        if frame_step else {}
    if frame_step:
        result.facts = [None] * len(paths)
    todo, facts_only = [], set()
    for i, key in known.items():
        if frame_step and key and key in stored_facts:
            result.facts[i] = stored_facts[key]
        if key and key in stored:
            result.rows[i] = _row(paths[i], stored[key])
            if stored[key]["status"] != "ok":
                result.failed += 1
            elif frame_step and key not in stored_facts:
                facts_only.add(i)  # counted as cached once its facts are made
                todo.append(i)
            else:
                result.cached += 1
        elif lean and result.facts[i] is not None:
            result.rows[i] = _lean_row(paths[i], key, result.facts[i].get("score"), scorers)
            result.cached += 1
        else:
            todo.append(i)
    if frame_step:
        result.facts_cached = sum(1 for f in result.facts if f is not None)
    embed = wants_embeddings(frame_step, scorers)

    def report() -> None:
        if progress:
            counts = {"cached": result.cached, "computed": result.computed,
                      "failed": result.failed}
            progress(result.cached + result.computed + result.failed, len(paths), counts)

    report()
    cancel = cancel or threading.Event()
    specs = {m: s.info.input for m, s in scorers.by_modality.items()}
    ready: list[_Prepared] = []
    failures: list[_Failed] = []
    limit = max(jobs * 2, batch_size + jobs)
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="critique-decode") as pool:
        in_flight: set[Future] = set()
        queue = iter(todo)
        exhausted = False
        while True:
            while not exhausted and not cancel.is_set() and len(in_flight) < limit:
                index = next(queue, None)
                if index is None:
                    exhausted = True
                    break
                in_flight.add(pool.submit(
                    _prepare, index, paths[index], known[index], specs, needs_depth, max_side,
                    frame_step=frame_step, score=not lean and index not in facts_only,
                    facts_wanted=frame_step is not None and result.facts[index] is None,
                    embed=embed or (lean and scorers.photo is not None),
                    lean=lean and index not in facts_only))
            if not in_flight:
                break
            try:
                done, in_flight = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                cancel.set()
                continue
            for future in done:
                item = future.result()
                (ready if isinstance(item, _Prepared) else failures).append(item)
            flush = len(ready) >= batch_size or (not in_flight and (exhausted or cancel.is_set()))
            if flush or len(failures) >= batch_size:
                _commit(ready, failures, paths, scorers, cache, version, result,
                        frame_step, facts_version, embed)
                ready, failures = [], []
                report()
        _commit(ready, failures, paths, scorers, cache, version, result, frame_step,
                facts_version, embed)
        report()
    result.cancelled = cancel.is_set() and (
        any(row is None for row in result.rows) or any(
            result.facts[i] is None and i not in result.facts_errors for i in facts_only))
    if frame_step:  # score rows served from the cache whose facts were not reached
        result.cached += sum(1 for i in facts_only
                             if result.facts[i] is None and i not in result.facts_errors)
    add_percentiles([row for row in result.rows if row is not None])
    _record_speeds(scorers, result)
    return result


def wants_embeddings(frame_step: FrameStep | None, scorers: ScorerSet) -> bool:
    """Whether the frame step wants the photo model's embeddings and that model gives them
    (the step's ``embedding_model`` names it, so its cached dicts name it too)."""
    wanted = getattr(frame_step, "embedding_model", None)
    photo = scorers.photo
    return bool(wanted) and photo is not None and hasattr(photo, "score_and_embed") and (
        getattr(photo, "embedding_model", None) == wanted)


def _record_speeds(scorers: ScorerSet, result: FolderScoringResult) -> None:
    """Each model's seconds per photo on this machine, when it scored enough photos to tell."""
    for scorer in scorers.by_modality.values():
        seconds, photos = result.model_seconds.get(scorer.info.name, (0.0, 0))
        describe = getattr(scorer, "describe_device", None)
        if photos >= MIN_PHOTOS and describe is not None:
            record_speed(scorer.info.name, describe(), seconds / photos)


def _prepare(index: int, path: Path, key: str | None, specs: dict, needs_depth: bool,
             max_side: int, *, frame_step: FrameStep | None = None, score: bool = True,
             facts_wanted: bool = False, embed: bool = False, lean: bool = False
             ) -> _Prepared | _Failed:
    """Worker thread: hash, decode, analyse, make the network inputs, run the frame step.
    ``embed``: a facts-only photo gets its photo model input too (for its embedding or,
    ``lean``, its score). Never raises."""
    try:
        hashed = None
        if key is None:
            resolved = str(path.resolve())
            stat = os.stat(resolved)
            key = content_key(resolved)
            hashed = (resolved, stat.st_size, stat.st_mtime_ns)
        photo = load_photo(path, max_side=max_side)
        if not score:
            inputs = {"photo": to_network_input(photo.pixels, specs["photo"])} if embed else {}
            facts, facts_error = _facts(frame_step, photo, path, None)
            return _Prepared(index, key, hashed, {}, inputs, scored=False, facts=facts,
                             facts_error=facts_error, lean=lean)
        analysis = analyze(photo, depth=needs_depth)
        values = {column: analysis.measurements.get(measure)
                  for measure, column in MEASUREMENT_COLUMNS.items()}
        values["width"], values["height"] = photo.original_size
        available = analysis.score_inputs()
        inputs = {modality: to_network_input(available[modality], spec)
                  for modality, spec in specs.items() if modality in available}
        depth = analysis.maps.get("depth")
        problem = depth.reason if needs_depth and depth and not depth.available else None
        facts, facts_error = _facts(frame_step, photo, path, values) if facts_wanted else (
            None, None)
        return _Prepared(index, key, hashed, values, inputs, problem, facts=facts,
                         facts_error=facts_error)
    except CritiqueError as error:
        return _Failed(index, key, str(error).removeprefix(f"{path}: "),
                       cacheable=key is not None, scored=score or lean)
    except OSError as error:
        return _Failed(index, key, f"cannot read the file ({error.strerror})", cacheable=False,
                       scored=score or lean)
    except Exception as error:  # a bug must not stop the folder; it is not cached
        log.exception("internal error while scoring %s", path)
        return _Failed(index, key, f"internal error: {type(error).__name__}: {error}",
                       cacheable=False, scored=score or lean)


def _facts(frame_step: FrameStep, photo, path: Path, values: dict
           ) -> tuple[dict | None, str | None]:
    """The frame step on a photo that scored: a bug in it costs the facts, not the score."""
    try:
        return frame_step.compute(photo, path, values), None
    except Exception as error:
        log.exception("internal error while reading the frame facts of %s", path)
        return None, f"internal error: {type(error).__name__}: {error}"


def _commit(ready: list[_Prepared], failures: list[_Failed], paths: list[Path],
            scorers: ScorerSet, cache: ResultsCache, version: str,
            result: FolderScoringResult, frame_step: FrameStep | None = None,
            facts_version: str = "", embed: bool = False) -> None:
    """Score one batch, store it (and its frame facts) in one transaction, fill the rows."""
    stored: list[tuple[str, str, dict]] = []
    lean = [item for item in ready if item.lean]
    facts_only = [item for item in ready if not item.scored and not item.lean]
    ready = [item for item in ready if item.scored]
    for failure in failures:
        if not failure.scored:  # its cached score row stands; only its facts are missing
            result.facts_errors[failure.index] = failure.message
            result.cached += 1
    failures = [failure for failure in failures if failure.scored]
    for item in ready:
        if item.depth_problem and item.depth_problem not in result.depth_missing:
            result.depth_missing.append(item.depth_problem)
    if ready:
        try:
            scores = _score_batch(ready, scorers, result.model_seconds, embed=embed)
        except Exception as error:  # a model failing on one batch must not stop the folder
            log.exception("the score model failed on a batch of %d photos", len(ready))
            why = f"the score model failed: {type(error).__name__}: {error}".splitlines()[0]
            failures = [*failures, *(_Failed(item.index, item.key, why, cacheable=False)
                                     for item in ready)]
            ready, scores = [], []
        for item, score_values in zip(ready, scores, strict=True):
            record = {"status": "ok", "error": "", **score_values, **item.values,
                      "content_key": item.key, "model": scorers.version}
            stored.append((item.key, version, record))
            result.rows[item.index] = _row(paths[item.index], record)
            result.computed += 1
            if item.facts is not None:
                item.facts["score"] = record.get("score_mean")
    if lean:
        lean, unscored = _score_lean(lean, scorers, result.model_seconds, embed)
        failures = [*failures, *unscored]
        for item in lean:
            result.rows[item.index] = _lean_row(paths[item.index], item.key,
                                                item.values["score_mean"], scorers)
            result.computed += 1
    for failure in failures:
        record = {"status": "error", "error": failure.message, "content_key": failure.key or "",
                  "model": scorers.version}
        if failure.cacheable:
            stored.append((failure.key, version, record))
        result.rows[failure.index] = _row(paths[failure.index], record)
        result.failed += 1
    result.cached += len(facts_only)  # their score rows came from the cache
    for item in facts_only:
        if item.facts is not None:
            item.facts["score"] = result.rows[item.index].get("score_mean")
    if embed:
        _embed_only([item for item in facts_only if item.facts is not None], scorers,
                    result.model_seconds)
    stored.extend(_finish_facts([*ready, *facts_only, *lean], frame_step, facts_version, result,
                                embed))
    cache.put_many(stored, keys=[(*item.stat, item.key) for item in [*ready, *lean]
                                 if item.stat])


def _photo_pass(items: list[_Prepared], scorers: ScorerSet, timings: dict[str, list],
                embed: bool) -> list:
    """One pass of the photo model over ``items``' photo inputs: each one's distribution,
    and with ``embed`` its embedding put on the item. Raises what the model raises."""
    scorer = scorers.photo
    start = time.perf_counter()
    batch = np.stack([item.inputs["photo"] for item in items])
    if embed:
        distributions, embeddings = scorer.score_and_embed(batch)
    else:
        distributions, embeddings = scorer.score(batch), None
    timing = timings.setdefault(scorer.info.name, [0.0, 0])
    timing[0] += time.perf_counter() - start
    timing[1] += len(items)
    if embed:
        for item, vector in zip(items, embeddings if embeddings is not None
                                else [None] * len(items), strict=True):
            item.embedding = vector
    return list(distributions)


def _embed_only(items: list[_Prepared], scorers: ScorerSet, timings: dict[str, list]) -> None:
    """The photo model's embeddings of photos whose score rows were cached (their scores
    are not redone); a failure leaves them without one (and their facts uncached)."""
    items = [item for item in items if "photo" in item.inputs]
    if not items:
        return
    try:
        _photo_pass(items, scorers, timings, embed=True)
    except Exception:
        log.exception("the score model failed to embed a batch of %d photos", len(items))


def _score_lean(items: list[_Prepared], scorers: ScorerSet, timings: dict[str, list],
                embed: bool) -> tuple[list[_Prepared], list[_Failed]]:
    """Lean photos' photo scores (``values["score_mean"]``, None without a photo model) and
    embeddings, from one pass; a model failure makes them failures, not stored."""
    for item in items:
        item.values = {"score_mean": None}
    if scorers.photo is None or not items:
        return items, []
    try:
        distributions = _photo_pass(items, scorers, timings, embed)
    except Exception as error:
        log.exception("the score model failed on a batch of %d photos", len(items))
        why = f"the score model failed: {type(error).__name__}: {error}".splitlines()[0]
        return [], [_Failed(item.index, item.key, why, cacheable=False) for item in items]
    for item, distribution in zip(items, distributions, strict=True):
        item.values["score_mean"] = round(distribution.mean, 3)
        if item.facts is not None:
            item.facts["score"] = item.values["score_mean"]
    return items, []


def _lean_row(path: Path, key: str, score: float | None, scorers: ScorerSet) -> dict:
    """The row of a photo culled leanly: from its facts, never stored as a score row."""
    return _row(path, {"status": "ok", "error": "", "score_mean": score, "content_key": key,
                       "model": scorers.version})


def _finish_facts(items: list[_Prepared], frame_step: FrameStep | None, facts_version: str,
                  result: FolderScoringResult, embed: bool = False
                  ) -> list[tuple[str, str, dict]]:
    """The frame step's batch work (main thread), then its rows for the cache. Facts that
    wanted an embedding and got none stand in this run but are not stored (their version
    names the embedding model)."""
    for item in items:
        if item.facts_error:
            result.facts_errors[item.index] = item.facts_error
    items = [item for item in items if item.facts is not None]
    if frame_step is None or not items:
        return []
    keep = True
    finish = getattr(frame_step, "finish", None)
    if finish is not None:
        try:
            finish([item.facts for item in items], [item.embedding for item in items])
        except Exception:  # e.g. an embedding model failing: facts stand, not cached
            log.exception("the frame step failed on a batch of %d photos", len(items))
            keep = False
    for item in items:
        result.facts[item.index] = item.facts
        result.facts_computed += 1
    if not keep:
        return []
    return [(item.key, facts_version, item.facts) for item in items
            if not embed or item.embedding is not None]


def _score_batch(items: list[_Prepared], scorers: ScorerSet,
                 timings: dict[str, list] | None = None, *, embed: bool = False) -> list[dict]:
    """Each model scores the batch; a mean-only model leaves score_std and p1..p10 None.
    ``embed``: the photo model's embeddings, from the same pass, go to the items."""
    scores: list[dict] = [{} for _ in items]
    for modality, scorer in scorers.by_modality.items():
        members = [i for i, item in enumerate(items) if modality in item.inputs]
        if not members:
            continue
        batch = np.stack([items[i].inputs[modality] for i in members])
        start = time.perf_counter()
        embeddings = None
        if embed and modality == "photo":
            distributions, embeddings = scorer.score_and_embed(batch)
        else:
            distributions = scorer.score(batch)
        if embeddings is not None:
            for i, vector in zip(members, embeddings, strict=True):
                items[i].embedding = vector
        if timings is not None:
            timing = timings.setdefault(scorer.info.name, [0.0, 0])
            timing[0] += time.perf_counter() - start
            timing[1] += len(members)
        for i, distribution in zip(members, distributions, strict=True):
            if modality == "photo":
                scores[i].update(_photo_columns(distribution))
            else:
                scores[i][f"{modality}_score"] = round(distribution.mean, 3)
    return scores


def _photo_columns(distribution) -> dict:
    probabilities = distribution.probabilities
    return {
        "score_mean": round(distribution.mean, 3),
        "score_std": None if distribution.std is None else round(distribution.std, 3),
        **{f"p{k + 1}": None if probabilities is None else round(probabilities[k], 5)
           for k in range(10)},
    }


def depth_model_version() -> str:
    """Which depth model a folder's depth maps come from: its folder name and the state
    of its files (no hashing of 100 MB per run); "none" when none is installed."""
    try:
        folder = find_depth_model()
    except CritiqueError:
        folder = None
    if folder is None:
        return "none"
    return f"{folder.name}:{files_signature(folder)}"


def _row(path: Path, record: dict) -> dict:
    return {"path": str(path), **record}


def add_percentiles(rows: list[dict]) -> None:
    """score_percentile: % of this run's scored photos scoring lower (ties count half)."""
    scored = [row for row in rows if row.get("score_mean") is not None]
    means = np.array([row["score_mean"] for row in scored], dtype=np.float64)
    for row in scored:
        below = float((means < row["score_mean"]).sum())
        ties = float((means == row["score_mean"]).sum()) - 1.0
        row["score_percentile"] = round(100.0 * (below + 0.5 * ties) / max(len(scored) - 1, 1),
                                        1) if len(scored) > 1 else 50.0
