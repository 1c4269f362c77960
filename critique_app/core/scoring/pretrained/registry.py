"""Which network a pulled score model is: the manifest's ``architecture`` -> its loader.

Loaders are imported only when a model is loaded (they need torch, transformers, timm).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.util.errors import ModelError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PretrainedArchitecture:
    architecture: str  # the manifest's "architecture"
    title: str  # what a score says it came from, when the manifest's card has no title
    output: str  # "mean" (one number) or "distribution" (10 bins over 1..10)
    input: InputSpec
    scale: str  # what the scores are on
    loader: str  # "module:function", the function taking the installed model folder
    backbone: str = ""  # what its embeddings (score_and_embed) are features of

    def load(self, folder: Path):
        """The network (torch, eval mode, on the CPU) from an installed model folder."""
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)(Path(folder))


_HERE = "critique_app.core.scoring.pretrained"
ARCHITECTURES: dict[str, PretrainedArchitecture] = {
    a.architecture: a for a in (
        PretrainedArchitecture(
            "critique:laion-aesthetic-v2", "LAION aesthetic v2", "mean",
            InputSpec(224, CLIP_MEAN, CLIP_STD, "crop"), "AVA's 1-10", f"{_HERE}.laion:load_laion",
            "clip-vit-l14"),
        PretrainedArchitecture(
            "critique:nima-inception-resnet-v2", "NIMA (InceptionResNetV2, AVA)", "distribution",
            InputSpec(299, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "crop"), "AVA's 1-10",
            f"{_HERE}.nima:load_nima", "inception_resnet_v2"),
    )
}


def is_pretrained(architecture: str) -> bool:
    return architecture in ARCHITECTURES


def architecture_of(architecture: str) -> PretrainedArchitecture:
    try:
        return ARCHITECTURES[architecture]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ModelError(f"no pretrained scorer is written for the architecture "
                         f"'{architecture}' (known: {known})") from None


# Heads the user trained on a pulled scorer's backbone (``python -m train score|personal
# --backbone clip-vit-l14``): imported like any trained model, loaded by .clip_head with the
# backbone of the store model their metadata names.
CLIP_HEAD_ARCHITECTURES = ("critique:clip-head/clip-vit-l14",)


def is_clip_head(architecture: str) -> bool:
    return architecture in CLIP_HEAD_ARCHITECTURES
