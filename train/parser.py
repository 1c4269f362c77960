"""The command line of ``python -m train`` (also ``critique-train``): every command and
option, in one place. The CLI parses with it, a resumed run re-parses its stored
command with it, and ``export`` reads a stopped run's settings with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RUN_FILE = "run.json"  # a run folder's stored command line
DEFAULT_CRITIC_MODEL = "smolvlm-256m-instruct"  # models/manifest.json's critic VLM


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--out", "-o", type=Path, required=True, help="the run's folder")
    group.add_argument("--resume", action="store_true",
                       help="continue the stopped run in --out with its stored settings")
    group.add_argument("--epochs", type=int, default=10)
    group.add_argument("--batch-size", type=int, default=None,
                       help="photos per micro-batch (default: chosen to fit the profile)")
    group.add_argument("--accumulate", type=int, default=1,
                       help="micro-batches per optimizer step (a bigger step, same memory)")
    group.add_argument("--lr", type=float, default=None, help="peak learning rate")
    group.add_argument("--weight-decay", type=float, default=1e-4)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--val-fraction", type=float, default=0.1,
                       help="share of photos held out for evaluation")
    group.add_argument("--checkpoint-every", type=int, default=0,
                       help="optimizer steps between checkpoints (0: every epoch)")
    group.add_argument("--max-steps", type=int, default=None,
                       help="stop after this many steps (resume later with --resume)")
    group.add_argument("--workers", type=int, default=0, help="data-loading processes")
    group.add_argument("--name", default=None, help="the trained model's name")
    hw = parser.add_argument_group("hardware")
    hw.add_argument("--profile", choices=("auto", "2080ti", "cpu", "cuda"), default="auto")
    hw.add_argument("--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto")
    hw.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction,
                    default=None)
    out = parser.add_argument_group("progress")
    out.add_argument("--progress", choices=("auto", "bar", "json", "none"), default="auto",
                     help="json: one JSON event per line on stdout (for the app's wizard)")
    out.add_argument("--progress-file", type=Path, default=None,
                     help="also append JSON events here (default: <out>/progress.jsonl)")


def _data(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", type=Path, required=required,
                       help="dataset file or folder (AVA.txt, CSV, JSONL, JSON, a photo folder)")
    group.add_argument("--format", default=None,
                       help="ava, impressions, artemis, pccd, xmp, csv, jsonl (default: detect)")
    group.add_argument("--images", type=Path, default=None,
                       help="the dataset's image folder, where it is not beside the data")


def _score_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--backbone", default="lite0",
                       help="lite0 (ImageNet weights from the model store), a timm name, or "
                            "clip-vit-l14 (a head on frozen CLIP embeddings; the backbone of "
                            "the installed laion-aesthetic-v2)")
    group.add_argument("--init", type=Path, default=None,
                       help="start from a score model or ssl backbone folder")
    group.add_argument("--freeze", default=None,
                       help="backbone, last:N or none (default last:2; giving it asks for "
                            "fine-tuning)")
    group.add_argument("--input-size", type=int, default=224)
    group.add_argument("--mean-weight", type=float, default=0.0,
                       help="Explaining-IAA: weight of the mean-score error term")
    group.add_argument("--std-weight", type=float, default=0.0,
                       help="Explaining-IAA: weight of the score-spread error term")
    group.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    group.add_argument("--no-cache", action="store_true",
                       help="decode photos every epoch instead of caching the inputs")


def _embedding_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("embeddings (--backbone clip-vit-l14)")
    group.add_argument("--backbone-dir", type=Path, default=None,
                       help="a CLIP ViT-L/14 folder saved with save_pretrained (default: the "
                            "installed laion-aesthetic-v2's backbone/)")
    group.add_argument("--embed-batch-size", type=int, default=None,
                       help="photos per embedding pass (default: 64 on a GPU, 8 on the CPU)")
    group.add_argument("--embedding-cache", type=Path, default=None,
                       help="where embeddings are kept between runs (default: the user data "
                            "folder's embeddings/); --no-cache keeps none")


def _critic_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("critic")
    group.add_argument("--model", default=DEFAULT_CRITIC_MODEL,
                       help="base model: an installed name or a model folder "
                            f"(default {DEFAULT_CRITIC_MODEL})")
    group.add_argument("--persona", default=None,
                       help="train a persona adapter on that persona's rows only "
                            "(e.g. introvert; Impressions rows carry annotator traits)")
    group.add_argument("--sections", default=None,
                       help="comma-separated sections to learn (default: all the data has)")
    group.add_argument("--lora-rank", type=int, default=16)
    group.add_argument("--lora-alpha", type=int, default=32)
    group.add_argument("--lora-dropout", type=float, default=0.05)
    group.add_argument("--max-length", type=int, default=2048,
                       help="tokens per example; the prompt is kept whole, the answer is cut")
    group.add_argument("--vad-weight", type=float, default=0.0,
                       help="SEVLM: weight of the valence-arousal-dominance head (0: off)")
    group.add_argument("--contrastive-weight", type=float, default=0.0,
                       help="SEVLM: weight of the image-emotion contrastive head (0: off)")
    group.add_argument("--eval-examples", type=int, default=8,
                       help="held-out answers generated and scored (BLEU, METEOR, ...) per "
                            "evaluation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="critique-train", description="Fine-tune Critique's models on your own photos.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="TASK")

    score = commands.add_parser("score", help="a NIMA score model from rated photos")
    _data(score, required=False)
    _score_options(score)
    score.add_argument("--recipe", choices=("auto", "finetune", "frozen"), default="auto",
                       help="finetune: train the network (a 10-bin distribution); frozen: a "
                            "ridge regression on frozen EfficientNet-Lite0 features (a mean "
                            "score; seconds on a CPU); auto: frozen below 1,000 rated photos "
                            "with --backbone lite0 and no --init/--freeze, else finetune")
    _embedding_options(score)
    _common(score)

    modality = commands.add_parser("modality",
                                   help="a score model that looks at a saliency/depth/blur map")
    _data(modality, required=False)
    _score_options(modality)
    modality.add_argument("--modality", choices=("saliency", "depth", "blur"), default=None)
    modality.add_argument("--depth-model", default=None, help="depth model folder or name")
    _common(modality)

    ssl = commands.add_parser("ssl", help="self-supervised pre-training on an unrated folder")
    ssl.add_argument("--data", type=Path, required=False, help="a folder of photos")
    ssl.add_argument("--backbone", default="lite0")
    ssl.add_argument("--input-size", type=int, default=224)
    ssl.add_argument("--freeze", default="last:3")
    ssl.add_argument("--margin", type=float, default=0.5)
    ssl.add_argument("--degradations", type=int, default=2,
                     help="degraded copies per photo and step")
    ssl.add_argument("--recursive", action="store_true")
    _common(ssl)

    personal = commands.add_parser("personal", help="learn your taste from your own ratings")
    _data(personal, required=False)
    personal.add_argument("--base", default=None,
                          help="the score model to start from (installed name or folder)")
    personal.add_argument("--backbone", default=None,
                          help="without --base, the frozen features to learn from: "
                               "clip-vit-l14 (the installed laion-aesthetic-v2's CLIP, starting "
                               "from its head) or lite0 (the ImageNet EfficientNet-Lite0, a "
                               "ridge regression); default: clip-vit-l14 when laion-aesthetic-v2 "
                               "is installed, else lite0")
    personal.add_argument("--fresh-head", action="store_true",
                          help="with --backbone clip-vit-l14: a ridge regression, not LAION's "
                               "head fine-tuned")
    personal.add_argument("--freeze", default="backbone")
    personal.add_argument("--rater", default=None, help="use only this rater's rows")
    personal.add_argument("--no-cache", action="store_true")
    _embedding_options(personal)
    _common(personal)

    critic = commands.add_parser("critic", help="LoRA fine-tuning of the critic on critiques")
    _data(critic, required=False)
    _critic_options(critic)
    _common(critic)

    evaluate = commands.add_parser("eval", help="metrics of a model on a dataset")
    evaluate.add_argument("model", help="model folder (or installed name)")
    _data(evaluate)
    evaluate.add_argument("--split", choices=("val", "all"), default="val",
                          help="val: the held-out split training used (same --seed); all")
    evaluate.add_argument("--val-fraction", type=float, default=None,
                          help="default: the value the model was trained with (else 0.1)")
    evaluate.add_argument("--seed", type=int, default=None,
                          help="default: the seed the model was trained with (else 0)")
    evaluate.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="write a run's model folder (and ONNX)")
    export.add_argument("run", type=Path, help="the run's folder")
    export.add_argument("--to", type=Path, default=None, help="where (default: <run>/model)")
    export.add_argument("--no-onnx", action="store_true")

    personas = commands.add_parser(
        "compare-personas", help="do two persona adapters write differently? (a permutation test)")
    personas.add_argument("adapter_a", type=Path)
    personas.add_argument("adapter_b", type=Path)
    _data(personas)
    personas.add_argument("--limit", type=int, default=20, help="photos to critique")
    personas.add_argument("--max-new-tokens", type=int, default=48)
    personas.add_argument("--seed", type=int, default=0)
    personas.add_argument("--json", action="store_true")

    validate = commands.add_parser("validate", help="check a dataset before training")
    _data(validate)
    validate.add_argument("--json", action="store_true")

    estimate = commands.add_parser("estimate", help="peak GPU memory of a task's settings")
    estimate.add_argument("--task", choices=("critic", "score"), default="critic")
    estimate.add_argument("--model", default=None,
                          help="critic: a known VLM (Hub id) or a model folder (default: all "
                               "known VLMs)")
    estimate.add_argument("--backbone", default="lite0", help="score: the backbone")
    estimate.add_argument("--input-size", type=int, default=224)
    estimate.add_argument("--batch-size", type=int, default=None)
    estimate.add_argument("--limit-gb", type=float, default=11.0)
    estimate.add_argument("--json", action="store_true")

    hardware = commands.add_parser("hardware", help="what this machine offers for training")
    hardware.add_argument("--json", action="store_true")
    return parser
