"""Pulled pretrained scorers: the real LAION head, the NIMA key layout, safe weight loading,
the crop preprocessing, and LAION v2 scoring real photos through find_scorers and folder
scoring (mean only: no invented histogram anywhere)."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.preprocess import (
    PREPROCESS_VERSION,
    preprocess_version,
    to_network_input,
)
from critique_app.core.scoring.pretrained.laion import AestheticHead, LaionAesthetic, load_head
from critique_app.core.scoring.pretrained.registry import ARCHITECTURES
from critique_app.core.scoring.pretrained.weights import load_torch_weights
from critique_app.core.util.errors import ModelError
from tests.helpers.photos import PHOTOS, load_rgb
from tests.helpers.score_models import (
    LAION,
    LAION_ARCHITECTURE,
    LAION_HEAD,
    NIMA,
    NIMA_ARCHITECTURE,
    NIMA_FILE,
    install_pretrained,
    nima_state_dict,
    save_tiny_laion,
    save_tiny_nima,
    save_tiny_scorer,
)

REFUSED = "will not load as plain weights (weights_only); refused, not unpickled"
HEAD_KEYS = {f"layers.{i}.{p}" for i in (0, 2, 4, 6, 7) for p in ("weight", "bias")}


# -- the real LAION head ------------------------------------------------------------------

def _reference_scores(state: dict, embeddings: torch.Tensor) -> torch.Tensor:
    """LAION's predictor written out by hand: normalise, then five affine maps."""
    x = F.normalize(embeddings, p=2, dim=-1)
    for i in (0, 2, 4, 6, 7):
        x = F.linear(x, state[f"layers.{i}.weight"], state[f"layers.{i}.bias"])
    return x.squeeze(-1)


class _FixedEmbeddings(nn.Module):
    """Stands in for CLIP's vision tower: returns given (not unit-length) image embeddings."""

    def __init__(self, embeddings: torch.Tensor) -> None:
        super().__init__()
        self.embeddings = embeddings

    def forward(self, pixel_values):
        return SimpleNamespace(image_embeds=self.embeddings[:len(pixel_values)])


def test_real_laion_head_loads_strictly_and_matches_plain_torch():
    assert LAION_HEAD.is_file(), "the real head lives in ../shared/fixtures/"
    state = torch.load(LAION_HEAD, weights_only=True, map_location="cpu")
    assert set(state) == HEAD_KEYS
    assert state["layers.0.weight"].shape == (1024, 768)
    assert state["layers.7.weight"].shape == (1, 16)
    head = load_head(LAION_HEAD)
    assert not head.training
    generator = torch.Generator().manual_seed(0)
    embeddings = 3.0 * torch.randn(6, 768, generator=generator)  # deliberately not unit length
    model = LaionAesthetic(_FixedEmbeddings(embeddings), head).eval()
    with torch.inference_mode():
        ours = model(torch.zeros(6, 3, 224, 224))
    expected = _reference_scores(state, embeddings)
    assert ours.shape == (6,)
    assert torch.allclose(ours, expected, atol=1e-5)
    # the embedding really is normalised first: unnormalised, the head says otherwise
    assert torch.allclose(head(F.normalize(embeddings, dim=-1)), expected, atol=1e-5)
    assert not torch.allclose(head(embeddings), expected, atol=1e-2)


def test_a_head_file_missing_a_layer_is_refused(tmp_path):
    state = torch.load(LAION_HEAD, weights_only=True, map_location="cpu")
    del state["layers.7.bias"]
    path = tmp_path / "head.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match="does not fit the LAION aesthetic head"):
        load_head(path)
    torch.save({k: v[:-1] if k == "layers.0.weight" else v
                for k, v in AestheticHead().state_dict().items()}, path)
    with pytest.raises(ModelError, match="does not fit"):
        load_head(path)


# -- weight files that are not plain weights -------------------------------------------

class _WritesAFile:
    """Unpickling this opens ``path`` for writing, creating it: the proof that a pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_pickle_that_needs_unpickling_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "written-by-the-pickle"
    weights = tmp_path / NIMA_FILE
    torch.save({"params": {"classifier.2.weight": torch.zeros(10, 1536)},
                "trap": _WritesAFile(marker)}, weights)
    with pytest.raises(ModelError) as refused:
        load_torch_weights(weights)
    assert REFUSED in str(refused.value) and NIMA_FILE in str(refused.value)
    assert not marker.exists()
    # the payload is live: a plain unpickle would have run it
    torch.load(weights, weights_only=False, map_location="cpu")
    assert marker.exists()


def test_files_that_are_not_torch_weights_are_refused(tmp_path):
    marker = tmp_path / "written"
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(pickle.dumps({"params": _WritesAFile(marker)}, protocol=2))
    page = tmp_path / "sac+logos+ava1-l14-linearMSE.pth"
    page.write_text("<!DOCTYPE html><html><body>404: Not Found</body></html>")
    for path in (legacy, page):
        with pytest.raises(ModelError, match=r"refused, not unpickled"):
            load_torch_weights(path)
    assert not marker.exists()
    with pytest.raises(ModelError, match="is missing"):
        load_torch_weights(tmp_path / "absent.pth")


# -- preprocessing and mean-only scores ---------------------------------------------------

def test_crop_preprocessing_matches_clips_own_processor():
    from PIL import Image
    from transformers import CLIPImageProcessor

    spec = ARCHITECTURES[LAION_ARCHITECTURE].input
    processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size=224, resample=3,
                                   image_mean=list(spec.mean), image_std=list(spec.std))
    for name in ("chelsea", "rocket", "astronaut"):
        rgb = load_rgb(name)
        expected = processor(images=Image.fromarray(rgb), return_tensors="np")["pixel_values"][0]
        ours = to_network_input(rgb.astype(np.float32) / 255, spec)
        assert ours.shape == expected.shape == (3, 224, 224)
        # the same pixels up to 8-bit rounding (CLIP resizes uint8, we resize floats)
        assert np.abs(ours - expected).mean() < 0.01 and np.abs(ours - expected).max() < 0.1


def test_crop_keys_its_own_cache_version_and_squash_keeps_the_old_one():
    assert preprocess_version(InputSpec()) == PREPROCESS_VERSION == "squash-area-1"
    crop = InputSpec(224, resize="crop")
    assert preprocess_version(crop) != PREPROCESS_VERSION
    assert InputSpec.from_dict(crop.to_dict()) == crop
    assert "resize" not in InputSpec().to_dict()  # files written before crops stay the same
    tall = np.zeros((300, 100, 3), np.float32)
    tall[:100] = 1.0  # the top third white: a centre crop cuts it away, a squash keeps it
    assert to_network_input(tall, InputSpec(50, resize="crop")).max() < 0.0
    assert to_network_input(tall, InputSpec(50)).max() > 0.9


def test_a_mean_only_score_has_no_histogram():
    score = ScoreDistribution.from_mean(5.8123, model="LAION aesthetic v2", scale="AVA's 1-10")
    assert not score.has_distribution and score.probabilities is None and score.std is None
    assert score.to_dict() == {"distribution": None, "mean": 5.812, "std": None,
                               "model": "LAION aesthetic v2", "scale": "AVA's 1-10"}
    assert score.sentence() == "LAION aesthetic v2 gives 5.8 on AVA's 1-10 scale (mean only)"
    assert score.short_text() == "5.8 (mean only)"
    spread = ScoreDistribution.from_probabilities(np.eye(10)[5] * 0.5 + 0.05)
    assert spread.has_distribution and "±" in spread.short_text()
    assert spread.sentence() == ("the score model gives 5.8 on a 1-10 scale (viewers' "
                                 "predicted ratings spread ± 2.0)")
    with pytest.raises(ValueError):
        ScoreDistribution.from_mean(float("nan"))


def test_the_critique_cites_a_mean_only_score_as_one(cat):
    from critique_app.cli.report import score_lines
    from critique_app.core.critic.request import CritiqueRequest
    from critique_app.core.critic.scores import scores_text
    from critique_app.core.critic.service import stream_critique

    scores = {"photo": ScoreDistribution.from_mean(5.81, model="LAION aesthetic v2",
                                                   scale="AVA's 1-10")}
    events = list(stream_critique(cat, CritiqueRequest(use_model=False), scores=scores))
    evaluation = "".join(e.text for e in events if e.kind == "text" and e.section == "evaluation")
    assert "Score: LAION aesthetic v2 gives 5.8 on AVA's 1-10 scale (mean only)." in evaluation
    assert "±" not in evaluation
    assert scores_text(scores) == ("- the photo: LAION aesthetic v2 gives 5.8 on AVA's 1-10 "
                                   "scale (mean only)")
    assert score_lines(scores) == ["score: LAION aesthetic v2 gives 5.8 on AVA's 1-10 scale "
                                   "(mean only)"]
    without = list(stream_critique(cat, CritiqueRequest(use_model=False)))
    assert not any("Score:" in (e.text or "") for e in without)


# -- speed notes ------------------------------------------------------------------------

def test_speed_is_recorded_and_read_back():
    import datetime as dt

    from critique_app.core.scoring.speed import read_speed, record_speed, speeds_path

    assert read_speed(LAION) is None
    record_speed(LAION, "CPU, 2 cores", 1.234)
    record_speed(NIMA, "CUDA (NVIDIA H100)", 0.0123)
    today = dt.date.today().isoformat()
    assert read_speed(LAION) == f"1.2 s a photo on CPU, 2 cores, measured {today}"
    assert read_speed(NIMA) == f"0.012 s a photo on CUDA (NVIDIA H100), measured {today}"
    speeds_path().write_text("{not json")
    assert read_speed(LAION) is None  # a damaged file is "not measured", never a crash


# -- end to end with a tiny CLIP (slow: builds models) --------------------------------------

def _crops(folder: Path, count: int) -> list[Path]:
    """Distinct real photos (the test photos and shifted crops of them) as JPEGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(PHOTOS)
    paths = []
    for i in range(count):
        rgb = load_rgb(names[i % len(names)])[i // len(names) * 8:, i // len(names) * 6:]
        path = folder / f"{names[i % len(names)]}_{i}.jpg"
        Image.fromarray(np.ascontiguousarray(rgb)).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def laion_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    return install_pretrained(root / "models", save_tiny_laion(root / "download"), name=LAION,
                              architecture=LAION_ARCHITECTURE)


@pytest.mark.slow
def test_laion_scores_real_photos_through_find_scorers_and_folder_scoring(laion_store, tmp_path):
    from critique_app.core.folder_scoring.output import write_results
    from critique_app.core.folder_scoring.runner import score_photos
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import find_scorers
    from critique_app.core.scoring.speed import read_speed

    scorers = find_scorers(laion_store, runtime="torch")  # the int8 path: test_pretrained_runtime
    scorer = scorers.photo
    assert scorers.missing is None and scorer.info.name == LAION
    assert scorer.output == "mean" and scorer.title == "LAION aesthetic v2"
    assert scorer.provider.startswith("torch") and scorer.info.input.resize == "crop"
    # the cache version comes from the install record, not from hashing the weights again
    record = laion_store.record(LAION)
    from critique_app.core.scoring.pretrained.scorer import files_digest

    assert scorers.version == f"{LAION}:{files_digest(record['files'])}:crop-bicubic-1"

    # the vision tower and its projection come from the checkpoint, not a fresh init
    from safetensors.torch import load_file

    saved = load_file(str(laion_store.folder(LAION) / "backbone" / "model.safetensors"))
    assert any(k.startswith("text_model.") for k in saved)  # a whole CLIP, as on the Hub
    projection = scorer.net.vision.visual_projection.weight
    assert torch.equal(projection, saved["visual_projection.weight"])

    paths = _crops(tmp_path / "shoot", 9)
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        result = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4)
        again = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4)
    assert result.computed == 9 and again.cached == 9
    rows = result.rows
    assert all(row["status"] == "ok" for row in rows)
    means = [row["score_mean"] for row in rows]
    assert all(np.isfinite(means)) and len(set(means)) > 1  # the photos score differently
    assert all(row["score_std"] is None for row in rows)
    assert all(row[f"p{i}"] is None for row in rows for i in range(1, 11))
    assert sorted(row["score_percentile"] for row in rows) == pytest.approx(
        [100 * i / 8 for i in range(9)], abs=0.1)
    assert all(row["model"] == scorers.version for row in rows)
    out = write_results(rows, tmp_path / "results.csv")
    with open(out, newline="") as handle:
        written = list(csv.DictReader(handle))
    assert all(r["score_mean"] and not r["score_std"] for r in written)
    assert all(r[f"p{i}"] == "" for r in written for i in range(1, 11))
    assert " s a photo on CPU, " in read_speed(LAION)  # 9 photos: enough to measure

    # the same scores one photo at a time, as the photo page asks for them
    from critique_app.core.analysis.analyzer import analyze
    from critique_app.core.folder_scoring.runner import CULLING_MAX_SIDE
    from critique_app.core.photo import load_photo

    one = scorers.score_inputs(analyze(load_photo(paths[0], max_side=CULLING_MAX_SIDE),
                                       depth=False).score_inputs())["photo"]
    assert not one.has_distribution and one.mean == pytest.approx(means[0], abs=2e-3)


@pytest.mark.slow
def test_a_trained_model_comes_before_laion_and_laion_before_others(tmp_path):
    from critique_app.core.scoring.scorer import find_scorers
    from critique_app.core.store.manifest import load_manifest

    store = install_pretrained(tmp_path / "models", save_tiny_laion(tmp_path / "l"), name=LAION,
                               architecture=LAION_ARCHITECTURE, extra_entries=load_manifest())
    assert store.entry(LAION).architecture == LAION_ARCHITECTURE  # the real manifest's entry
    store = install_pretrained(tmp_path / "models", save_tiny_laion(tmp_path / "o", seed=1),
                               name="another-clip-scorer", architecture=LAION_ARCHITECTURE,
                               title="Another CLIP scorer", extra_entries=store.manifest)
    assert find_scorers(store).photo.info.name == LAION
    other = find_scorers(store, name="another-clip-scorer").photo
    assert other.info.name == "another-clip-scorer" and other.title == "Another CLIP scorer"
    store.import_dir(save_tiny_scorer(tmp_path / "mine", name="my-scorer", steps=2),
                     report=lambda _: None)
    assert find_scorers(store).photo.info.name == "my-scorer"
    # a pulled scorer that will not load is passed over, and said why when none is left
    head = store.folder(LAION) / "head" / "sac+logos+ava1-l14-linearMSE.pth"
    head.write_text("<html>not the head</html>")
    store.remove("my-scorer")
    store.remove("another-clip-scorer")
    found = find_scorers(store)
    assert found.photo is None and REFUSED in found.missing and LAION in found.missing


@pytest.mark.slow
def test_a_backbone_missing_vision_weights_is_refused_not_filled_at_random(tmp_path):
    from safetensors.torch import load_file, save_file

    from critique_app.core.scoring.pretrained.laion import load_backbone

    folder = save_tiny_laion(tmp_path / "m") / "backbone"
    weights = load_file(str(folder / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("vision_model.encoder")},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"lack \d+ tensors of the vision tower"):
        load_backbone(folder)


@pytest.mark.slow
def test_laion_at_real_size_scores_a_photo(tmp_path):
    """CLIP ViT-L/14's vision tower at its real size (the real config, random weights)."""
    from critique_app.core.scoring.scorer import find_scorers

    store = install_pretrained(tmp_path / "models",
                               save_tiny_laion(tmp_path / "download", real_size=True),
                               name=LAION, architecture=LAION_ARCHITECTURE)
    # torch: the int8 export of the real size takes a minute and ~6 GB (bench_score measures it)
    scorer = find_scorers(store, runtime="torch").photo
    assert sum(p.numel() for p in scorer.net.vision.parameters()) > 300_000_000
    photo = to_network_input(load_rgb("chelsea").astype(np.float32) / 255, scorer.info.input)
    (score,) = scorer.score(photo[None])
    assert not score.has_distribution and np.isfinite(score.mean)


# -- NIMA ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_nima_state_dict_with_the_real_key_layout_loads_strictly(tmp_path):
    from critique_app.core.scoring.pretrained.nima import load_nima
    from critique_app.core.scoring.scorer import find_scorers

    state = nima_state_dict()
    assert state["classifier.2.weight"].shape == (10, 1536)
    assert any(k.startswith("base_model.conv2d_1a.") for k in state)
    store = install_pretrained(tmp_path / "models", save_tiny_nima(tmp_path / "download"),
                               name=NIMA, architecture=NIMA_ARCHITECTURE)
    scorer = find_scorers(store).photo
    assert scorer.output == "distribution" and scorer.info.input.size == 299
    inputs = np.stack([to_network_input(load_rgb(n).astype(np.float32) / 255, scorer.info.input)
                       for n in ("chelsea", "coffee")])
    scores = scorer.score(inputs)
    for score in scores:
        assert score.has_distribution and len(score.probabilities) == 10
        assert sum(score.probabilities) == pytest.approx(1.0) and 1 <= score.mean <= 10
        assert score.model == "NIMA (InceptionResNetV2, AVA)"
    reference = load_nima(store.folder(NIMA))
    with torch.inference_mode():
        expected = reference(torch.from_numpy(inputs)).numpy()
    assert np.allclose([s.probabilities for s in scores], expected, atol=1e-5)

    renamed = dict(state)
    renamed["head.weight"] = renamed.pop("classifier.2.weight")
    torch.save({"params": renamed}, store.folder(NIMA) / NIMA_FILE)
    with pytest.raises(ModelError, match="does not fit the NIMA"):
        load_nima(store.folder(NIMA))
    torch.save(state, store.folder(NIMA) / NIMA_FILE)  # the state dict not under "params"
    with pytest.raises(ModelError, match="no 'params' entry"):
        load_nima(store.folder(NIMA))
