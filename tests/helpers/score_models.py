"""Tiny score models trained in-process, so the scoring chain runs without network.

The synthetic task has a known answer: brighter photos are rated higher. A
model that has learned it proves that training wrote the weights the scorer
later uses (a random or untrained head could not rank by brightness).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import torch

from critique_app.core.scoring.backbone import InputSpec, create_backbone
from critique_app.core.scoring.model import ScoreNet, emd_loss
from critique_app.core.scoring.package import Training, save_score_model

TINY_BACKBONE = "test_efficientnet"
TINY_INPUT = InputSpec(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def brightness_target(brightness: np.ndarray) -> torch.Tensor:
    """A 10-bin distribution centred on 1 + 9 * brightness."""
    centres = 1.0 + 9.0 * torch.as_tensor(brightness, dtype=torch.float32)[:, None]
    bins = torch.arange(1, 11, dtype=torch.float32)[None, :]
    target = torch.exp(-0.5 * ((bins - centres) / 1.0) ** 2)
    return target / target.sum(dim=1, keepdim=True)


def brightness_batches(steps: int, seed: int):
    """``steps`` batches of 16 textured grey 64 px images, normalised, with their
    brightness (0.05-0.95): what the tiny scorers learn to rate."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        brightness = rng.uniform(0.05, 0.95, size=16).astype(np.float32)
        texture = rng.normal(0, 0.08, size=(16, 3, 64, 64)).astype(np.float32)
        pixels = np.clip(brightness[:, None, None, None] + texture, 0, 1)
        yield torch.from_numpy((pixels - 0.5) / 0.5), brightness


def train_tiny_scorer(steps: int = 60, seed: int = 0) -> ScoreNet:
    torch.manual_seed(seed)
    net = ScoreNet(create_backbone(TINY_BACKBONE), dropout=0.0)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for images, brightness in brightness_batches(steps, seed):
        loss = emd_loss(net(images), brightness_target(brightness))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval()


def save_tiny_scorer(folder: Path, *, name: str = "tiny-score", modality: str = "photo",
                     trained: bool = True, steps: int = 60) -> Path:
    net = train_tiny_scorer(steps=steps)
    training = Training(
        dataset="synthetic brightness ramp (tests)",
        samples=16 * steps,
        epochs=1.0,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        metrics={"train_emd": 0.0},
    ) if trained else None
    return save_score_model(net, folder, name=name, backbone=TINY_BACKBONE, modality=modality,
                            input_spec=TINY_INPUT, training=training)


# -- pulled pretrained scorers, laid out as the store installs them ---------------------

SHARED = Path(__file__).resolve().parents[3] / "shared"
LAION_HEAD = SHARED / "fixtures" / "laion-aesthetic-v2-head.pth"
CLIP_L14_CONFIG = SHARED / "real-configs" / "clip-vit-large-patch14" / "config.json"
LAION = "laion-aesthetic-v2"
LAION_ARCHITECTURE = "critique:laion-aesthetic-v2"
NIMA = "nima-ava"
NIMA_ARCHITECTURE = "critique:nima-inception-resnet-v2"
NIMA_FILE = "NIMA_InceptionV2_ava-b0c77c00.pth"


def save_tiny_laion(folder: Path, *, seed: int = 0, real_size: bool = False) -> Path:
    """A LAION aesthetic v2 model folder as a pull lays it out. ``backbone/``: like the Hub's
    checkpoint, a whole CLIP model (tiny, text tower included; the loader reads only the
    vision tower), or with ``real_size`` ViT-L/14's vision tower with projection at its real
    size from the real config; random weights either way, saved with save_pretrained.
    ``head/``: the real published head file."""
    import shutil

    from transformers import CLIPConfig, CLIPModel, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    folder = Path(folder)
    if real_size:
        real = CLIPConfig.from_pretrained(CLIP_L14_CONFIG.parent)
        model = CLIPVisionModelWithProjection(real.vision_config)
    else:
        small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 2, "projection_dim": 768}
        model = CLIPModel(CLIPConfig(
            text_config={**small, "vocab_size": 100, "max_position_embeddings": 16},
            vision_config={**small, "image_size": 224, "patch_size": 32}, projection_dim=768))
    model.eval().save_pretrained(folder / "backbone")
    (folder / "head").mkdir(parents=True, exist_ok=True)
    shutil.copy(LAION_HEAD, folder / "head" / "sac+logos+ava1-l14-linearMSE.pth")
    return folder


def nima_state_dict(seed: int = 0) -> dict:
    """Random weights with the real NIMA file's key names and shapes: timm's
    inception_resnet_v2 (features_only) as ``base_model`` and ``classifier.2`` (10 x 1536)."""
    import timm
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Module()
    net.base_model = timm.create_model("inception_resnet_v2", pretrained=False,
                                       features_only=True)
    net.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.0), nn.Linear(1536, 10))
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def save_tiny_nima(folder: Path, *, seed: int = 0) -> Path:
    """A NIMA model folder as pulled: the one .pth file, its state dict under "params"."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"params": nima_state_dict(seed)}, folder / NIMA_FILE)
    return folder


def install_pretrained(root: Path, folder: Path, *, name: str, architecture: str,
                       title: str | None = None, extra_entries: dict | None = None):
    """A ModelStore at ``root`` whose manifest knows ``name`` and which holds ``folder``
    installed under it (the files moved in, an install record with their hashes). The
    manifest is ``extra_entries`` (e.g. the real one) plus ``name``'s entry: its entry there
    when it has one, else a plain entry of ``architecture``."""
    import json
    import shutil

    from critique_app.core.store.hashing import sha256_file
    from critique_app.core.store.manifest import ModelEntry, Source
    from critique_app.core.store.store import RECORD, ModelStore

    target = Path(root) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), target)
    files = {p.relative_to(target).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
             for p in sorted(target.rglob("*")) if p.is_file()}
    (target / RECORD).write_text(json.dumps({"name": name, "source": "test", "files": files,
                                             "installed_at": "2026-01-01T00:00:00+00:00"}))
    entry = (extra_entries or {}).get(name) or ModelEntry(
        name=name, task="score", architecture=architecture, source=Source("local"), files=(),
        licence="test", trained_on="AVA (as published)")
    if title is not None:
        from dataclasses import replace

        entry = replace(entry, card={"title": title})
    manifest = {**(extra_entries or {}), name: entry}
    return ModelStore(root, manifest=manifest)


def install_tiny_laion(scratch: Path, *, seed: int = 0):
    """The tiny LAION aesthetic v2 (tiny CLIP with ViT-L/14's 768-d projection, the real
    head) installed in the default model store (``CRITIQUE_HOME``'s): the backbone that
    ``python -m train score|personal --backbone clip-vit-l14`` embeds with."""
    from critique_app.core.util.paths import models_dir

    return install_pretrained(models_dir(), save_tiny_laion(Path(scratch) / "tiny-laion",
                                                            seed=seed),
                              name=LAION, architecture=LAION_ARCHITECTURE)


# -- mean-only trained models (a backbone and a linear head: what `personal` writes) -------

def save_tiny_mean_scorer(folder: Path, *, name: str = "tiny-mean", steps: int = 60,
                          seed: int = 0) -> Path:
    """A tiny MeanScoreNet trained in-process on the brightness ramp (mean 1 + 9 *
    brightness), saved with ``"output": "mean"``."""
    from critique_app.core.scoring.mean_net import MeanScoreNet

    torch.manual_seed(seed)
    net = MeanScoreNet(create_backbone(TINY_BACKBONE))
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for images, brightness in brightness_batches(steps, seed):
        target = 1.0 + 9.0 * torch.from_numpy(brightness)
        loss = ((net(images) - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    training = Training(dataset="synthetic brightness ramp (tests)", samples=16 * steps,
                        epochs=1.0,
                        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        metrics={"train_rmse": float(loss.detach())})
    return save_score_model(net.eval(), folder, name=name, backbone=TINY_BACKBONE,
                            modality="photo", input_spec=TINY_INPUT, training=training,
                            output="mean")
