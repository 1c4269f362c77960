"""``python -m train TASK ...`` (also ``critique-train``): every task from a terminal,
or from the app's wizard, which runs it as a subprocess with ``--progress json``.

Each run lives in its own folder (``--out``): ``run.json`` (the command's
settings), ``checkpoint.pt``, ``progress.jsonl`` and, when it finishes,
``model/`` ready for ``critique models import``. ``--resume`` continues a
stopped run with the settings stored in its folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from train import interrupt
from train.parser import RUN_FILE, build_parser

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130
TRAINING_COMMANDS = ("score", "modality", "personal", "ssl", "critic")


def main(argv: list[str] | None = None) -> int:
    handlers = interrupt.install()  # Ctrl-C, and CTRL_BREAK from the app's Stop on Windows
    try:
        return _main(argv)
    finally:
        interrupt.restore(handlers)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        if args.command in TRAINING_COMMANDS:
            return _train(parser, args)
        from train import commands

        return getattr(commands, f"run_{args.command.replace('-', '_')}")(args)
    except CritiqueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def task_entry(command: str):
    """The entry module of a training command's task (``train/run_<task>.py``); each has
    ``run(args, hardware, progress) -> dict``, the result its ``done`` event carries."""
    if command in ("score", "modality", "personal"):  # score runs on a map, or for one person
        from train import run_score as entry
    elif command == "ssl":
        from train import run_ssl as entry
    elif command == "critic":
        from train import run_critic as entry
    else:
        raise ValueError(f"'{command}' is not a training command")
    return entry


def run_task(args: argparse.Namespace, progress) -> dict:
    """Seed, resolve the hardware, run the command's task and report its result."""
    from train.hardware import apply_memory_cap, resolve_hardware
    from train.seed import seed_everything

    seed_everything(args.seed)  # before any model is built: fresh heads start the same way
    hardware = resolve_hardware(args.profile, args.precision, args.gradient_checkpointing)
    apply_memory_cap(hardware)
    progress.log(f"hardware: {hardware.describe()}")
    result = task_entry(args.command).run(args, hardware, progress)
    progress.done(result)
    return result


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from train.progress import describe_failure

    args = _with_stored_settings(parser, args)
    args.out.mkdir(parents=True, exist_ok=True)
    progress = _progress(args)
    try:
        result = run_task(args, progress)
        if progress_mode(args) != "json":
            print(summary(result), file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        progress.error("stopped by the user; continue with --resume", kind="interrupted")
        return EXIT_INTERRUPTED
    except CritiqueError as error:
        progress.error(str(error), kind="data")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        message, hint = describe_failure(error)
        progress.error(message, hint=hint, kind=type(error).__name__)
        print(f"error: {message}" + (f"\n{hint}" if hint else ""), file=sys.stderr)
        return EXIT_ERROR
    finally:
        progress.close()


def summary(result: dict) -> str:
    """What a finished (or stopped) run did, for a person at a terminal."""
    from train.metrics import describe_metrics as line

    if result.get("stopped_early") or not result.get("model_dir"):
        return f"stopped after {result.get('steps', 0)} steps; continue with --resume"
    lines = [f"model written to {result['model_dir']}"]
    if result.get("recipe"):
        note = result.get("recipe_note")
        lines.append(f"recipe: {result['recipe']}" + (f" ({note})" if note else "")
                     + ("; it predicts a mean score" if result.get("output") == "mean" else ""))
    if result.get("metrics"):
        used = (f" (learned from {result['ratings_used']} ratings)"
                if result.get("ratings_used") else "")
        lines.append(f"held-out: {line(result['metrics'])}{used}")
    if result.get("baseline_metrics"):
        lines.append(f"the model it started from: {line(result['baseline_metrics'])}")
    lines.append(f"use it: critique models import {result['model_dir']}")
    return "\n".join(lines)


def _with_stored_settings(parser, args: argparse.Namespace) -> argparse.Namespace:
    """``--resume`` reruns the stored command (only progress options may differ);
    a new run stores its command line."""
    stored = Path(args.out) / RUN_FILE
    if args.resume:
        if not stored.is_file():
            raise CritiqueError(f"{args.out} has no {RUN_FILE}: nothing to resume")
        saved = json.loads(stored.read_text(encoding="utf-8"))
        if saved["command"] != args.command:
            raise CritiqueError(f"{args.out} is a '{saved['command']}' run, not '{args.command}'")
        os.chdir(saved["cwd"])  # the stored command's relative paths start there
        resumed = parser.parse_args(saved["argv"])
        resumed.argv, resumed.resume = saved["argv"], True
        # Only how far to go and how to report may change: --max-steps stopped it.
        resumed.progress, resumed.progress_file = args.progress, args.progress_file
        resumed.max_steps = args.max_steps
        return resumed
    from critique_app.core.util.files import write_text_atomically
    from train.distributed import is_main_process

    if not is_main_process():
        return args
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_text_atomically(stored, json.dumps(
        {"command": args.command, "argv": args.argv, "cwd": os.getcwd()}, indent=2))
    return args


def _progress(args):
    from train.distributed import is_main_process
    from train.progress import Progress

    if not is_main_process():  # under torchrun only the first process reports
        return Progress()
    mode = progress_mode(args)
    return Progress(json_stream=sys.stdout if mode == "json" else None,
                    json_path=args.progress_file or Path(args.out) / "progress.jsonl",
                    bar=mode == "bar")


def progress_mode(args) -> str:
    """bar in a terminal, JSON lines when piped (the wizard), unless told."""
    if args.progress == "auto":
        return "bar" if sys.stderr.isatty() else "json"
    return args.progress
