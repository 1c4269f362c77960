"""The app's Qt-free side of fine-tuning: plans, events, run folders, trainer probes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from critique_app.core.finetuning.events import RunProgress, format_seconds
from critique_app.core.finetuning.plan import TASKS, FineTuningPlan, resume_argv
from critique_app.core.finetuning.probes import detect_hardware, validate_data
from critique_app.core.finetuning.protocol import parse_event
from critique_app.core.finetuning.runs import list_runs, new_run_dir, read_results, read_run
from critique_app.core.util.errors import CritiqueError
from tests.helpers.photos import PHOTOS
from train.parser import build_parser
from train.progress import Progress


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_plan_is_a_command_line_the_trainer_accepts(task, tmp_path):
    plan = FineTuningPlan(task, data=tmp_path / "data.csv", base="some-model", epochs=3,
                        batch_size=4, lr=1e-3, freeze="backbone" if task != "critic" else None,
                        gradient_checkpointing=True, name="mine",
                        persona="novice" if task == "critic" else None)
    args = build_parser().parse_args(plan.argv(tmp_path / "run"))
    assert args.command == task and args.epochs == 3 and args.batch_size == 4
    assert args.progress == "json" and args.gradient_checkpointing is True
    assert Path(args.out) == tmp_path / "run"
    base = {"personal": "base", "critic": "model"}.get(task, "backbone")
    assert getattr(args, base) == "some-model"
    resumed = build_parser().parse_args(resume_argv(task, tmp_path / "run"))
    assert resumed.resume


def test_events_from_the_trainer_fold_into_progress():
    stream = io.StringIO()
    progress = Progress(json_stream=stream)
    progress.start("score", total_steps=4, epochs=2, config={}, hardware={"device": "cpu"},
                   memory=None)
    for step in (1, 2):
        progress.step(step, step / 2, loss=1.0 / step, lr=1e-3)
    progress.evaluate(2, 1, {"srcc": 0.5})
    progress.log("half way")
    progress.error("out of GPU memory", hint="lower --batch-size", kind="oom")
    lines = ["a stray warning from a library", *stream.getvalue().splitlines(), "{broken"]
    state = RunProgress()
    state.apply_lines(lines)
    assert state.task == "score" and state.total_steps == 4 and state.step == 2
    assert state.losses == [(1, 1.0), (2, 0.5)]
    assert state.last_metrics == {"srcc": 0.5}
    assert state.error["hint"] == "lower --batch-size"
    assert "out of GPU memory" in state.status_text()
    assert parse_event("not json") is None and parse_event('{"no": "event"}') is None
    assert format_seconds(30) == "30 s" and format_seconds(600) == "10 min"


def test_run_folders_are_listed_with_their_state(tmp_path):
    stopped = new_run_dir("score", tmp_path)
    stopped.mkdir()
    (stopped / "run.json").write_text(json.dumps({"command": "score", "argv": []}))
    (stopped / "checkpoint.pt").write_bytes(b"x")
    done = new_run_dir("critic", tmp_path)
    (done / "model").mkdir(parents=True)
    (done / "run.json").write_text(json.dumps({"command": "critic", "argv": []}))
    (done / "model" / "critique_model.json").write_text(json.dumps(
        {"name": "mine", "task": "critic-adapter", "trained_on": "x"}))
    (done / "model" / "metrics.json").write_text(json.dumps(
        {"metrics": {"bleu_1": 0.3}, "baseline_metrics": {"bleu_1": 0.1}}))
    (tmp_path / "not-a-run").mkdir()
    runs = {run.task: run for run in list_runs(tmp_path)}
    assert set(runs) == {"score", "critic"}
    assert runs["score"].resumable and not runs["score"].finished
    assert runs["critic"].finished and not runs["critic"].resumable
    results = read_results(runs["critic"].model_dir)
    assert results["name"] == "mine" and results["baseline_metrics"] == {"bleu_1": 0.1}
    assert read_run(tmp_path / "not-a-run") is None


@pytest.mark.slow
def test_validation_and_hardware_come_from_the_trainer(tmp_path):
    table = tmp_path / "ratings.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "score"])
        writer.writerow([PHOTOS["chelsea"], "7"])
        writer.writerow([PHOTOS["coffee"], "eleven"])
    report = validate_data(table)
    assert report["counts"]["rows"] == 1 and report["errors"][0]["line"] == 3
    assert detect_hardware()["device"] in ("cpu", "cuda")
    with pytest.raises(CritiqueError):
        validate_data(tmp_path / "missing.csv")
