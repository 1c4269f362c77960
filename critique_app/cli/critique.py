"""``critique critique PHOTO``: stream a critique to the terminal."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from critique_app.core.util.errors import Cancelled

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def critique(
    photo: Annotated[Path, typer.Argument(help="The photo to critique.")],
    persona: Annotated[str | None, typer.Option(
        help="Who speaks: critic, introvert, extrovert, art-experienced, novice, one of yours "
             "('critique personas'), or a short description in quotes.")] = None,
    sections: Annotated[list[str] | None, typer.Option(
        "--sections", "-s", help="Which sections (repeat or comma-separate): description, "
                                 "impression, evaluation, emotion, suggestions.")] = None,
    model: Annotated[str | None, typer.Option(
        help="The language model: a store name or a model folder (default: the best "
             "installed).")] = None,
    adapter: Annotated[Path | None, typer.Option(
        help="A LoRA adapter folder to apply (default: the persona's, if installed).")] = None,
    no_model: Annotated[bool, typer.Option(
        "--no-model", help="Only the rule engine: every section from the labels, measurements and "
        "EXIF, no language model.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    tiling: Annotated[str, typer.Option(
        help="How a vision-language model sees the photo: auto (one 512 px view on a CPU, "
             "the model's tiles on a GPU), one, or full (tiles: more detail, several times "
             "slower).")] = "auto",
    max_tokens: Annotated[int, typer.Option(min=8, help="Most tokens per section.")] = 150,
    as_json: Annotated[bool, typer.Option("--json", help="JSON-lines events on stdout.")
                       ] = False,
) -> None:
    """Critique a photo: description, impression, evaluation, emotion and suggestions."""
    from critique_app.core.analysis.analyzer import analyze
    from critique_app.core.critic.generation import GenerationSettings
    from critique_app.core.critic.personas import resolve_persona
    from critique_app.core.critic.request import CritiqueRequest
    from critique_app.core.critic.sections import parse_sections
    from critique_app.core.critic.service import stream_critique

    request = CritiqueRequest(
        sections=parse_sections(sections), persona=resolve_persona(persona), model=model,
        use_model=not no_model, adapter=adapter, device=device, tiling=tiling,
        generation=GenerationSettings(max_new_tokens=max_tokens,
                                      sentence_end_after=max(8, max_tokens // 2)))
    cancel = threading.Event()
    analysis = analyze(photo, cancel=cancel)
    scores = _model_scores(analysis)
    write = _JsonWriter() if as_json else _TerminalWriter()
    write.header(analysis, scores)
    events = stream_critique(analysis, request, cancel, scores=scores)
    try:
        for event in events:
            write(event)
    except KeyboardInterrupt:
        cancel.set()
        events.close()  # joins the generation thread; the text so far is already out
        write.stopped()
        raise Cancelled() from None


def _model_scores(analysis) -> dict:
    """Scores from the installed score models (trained or pulled); {} when there are none."""
    from critique_app.core.scoring.scorer import find_scorers

    scorers = find_scorers()
    if not scorers.by_modality:
        return {}
    return scorers.score_inputs(analysis.score_inputs())


class _TerminalWriter:
    def __init__(self) -> None:
        self.at_line_start = True
        self.vad: dict | None = None  # from the emotion event, printed when its section ends

    def header(self, analysis, scores) -> None:
        out.print(f"[bold]{analysis.photo.path.name}[/bold]")
        from critique_app.cli.report import print_scores

        print_scores(scores, out)

    def __call__(self, event) -> None:
        kind = event.kind
        if kind == "notice":
            if not self.at_line_start:  # a notice mid-section starts on a line of its own
                sys.stdout.write("\n")
                sys.stdout.flush()
                self.at_line_start = True
            err.print(f"[dim]{event.text}[/dim]")
        elif kind == "score":
            data = event.data
            out.print(f"{data['model']} rates it {data['mean']:.1f} ± {data['std']:.1f} "
                      "[dim](zero-shot VLM rating, not a trained scorer)[/dim]")
        elif kind == "start":
            out.print(f"\n[bold cyan]{event.text}[/bold cyan]")
            self.at_line_start = True
        elif kind == "text":
            sys.stdout.write(event.text)
            sys.stdout.flush()
            self.at_line_start = event.text.endswith("\n")
        elif kind == "emotion":
            self.vad = event.data["vad"]
        elif kind == "end":
            if not self.at_line_start:
                sys.stdout.write("\n")
            if event.section == "emotion" and self.vad:
                vad = self.vad
                out.print(f"[dim]valence {vad['valence']:.2f}, arousal {vad['arousal']:.2f}, "
                          f"dominance {vad['dominance']:.2f} (0-1)[/dim]")

    def stopped(self) -> None:
        sys.stdout.write("\n")
        err.print("[yellow]stopped; the critique so far is above[/yellow]")


class _JsonWriter:
    def header(self, analysis, scores) -> None:
        self._emit({"event": "photo", "path": str(analysis.photo.path),
                    "scores": {m: d.to_dict() for m, d in scores.items()}})

    def __call__(self, event) -> None:
        self._emit(event.to_dict())

    def stopped(self) -> None:
        self._emit({"event": "cancelled"})

    @staticmethod
    def _emit(data: dict) -> None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()
