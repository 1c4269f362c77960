"""`critique critique` and `critique personas` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.photos import PHOTOS, REPO_ROOT
from tests.helpers.tiny_lms import save_tiny_causal_lm


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "critique_app", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
                          env=dict(os.environ), **kwargs)


def test_with_no_model_it_prints_suggestions_and_how_to_get_a_model():
    result = cli("critique", str(PHOTOS["astronaut"]))
    assert result.returncode == 0, result.stderr
    assert "Aesthetic evaluation" in result.stdout and "Suggestions" in result.stdout
    assert "1. " in result.stdout  # the astronaut's crushed shadows get a ranked fix
    assert "crushed" in result.stdout
    assert "critique models pull smollm2-135m-instruct-gguf" in result.stderr


@pytest.mark.slow
def test_json_lines_events_in_order(tmp_path):
    model = save_tiny_causal_lm(tmp_path / "tiny")
    result = cli("critique", str(PHOTOS["chelsea"]), "--model", str(model), "--json",
                 "--max-tokens", "10", "-s", "description,emotion,suggestions",
                 "--persona", "novice")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "photo"
    assert events[-1]["event"] == "done"
    starts = [e["section"] for e in events if e["event"] == "start"]
    assert starts == ["description", "emotion", "suggestions"]
    assert any(e["event"] == "emotion" and "vad" in e["data"] for e in events)
    assert any(e["event"] == "notice" and "written by tiny" in e["text"] for e in events)


@pytest.mark.slow
def test_ctrl_c_stops_promptly_and_keeps_the_partial_text(tmp_path):
    # a model big enough to be slow, which never stops by itself
    model = save_tiny_causal_lm(tmp_path / "talker", never_stop=True, hidden_size=192,
                                intermediate_size=512, num_hidden_layers=6)
    process = subprocess.Popen(
        [sys.executable, "-m", "critique_app", "critique", str(PHOTOS["chelsea"]), "--model",
         str(model), "--json", "--max-tokens", "3000", "-s", "description"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env=dict(os.environ))
    for line in process.stdout:
        if json.loads(line)["event"] == "start":
            break
    # it is writing now; its text shows a checked sentence at a time (grounding.py), and a
    # random model's gibberish never passes, so wait for the writing, not for its text
    time.sleep(1.0)
    interrupted = time.perf_counter()
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)
    assert time.perf_counter() - interrupted < 5
    assert process.returncode == 130, errors
    tail = [json.loads(line) for line in rest.splitlines()]
    assert tail[-1] == {"event": "cancelled"}
    assert not any(e["event"] == "done" for e in tail)


def test_unknown_sections_are_one_line_errors():
    result = cli("critique", str(PHOTOS["chelsea"]), "-s", "poetry")
    assert result.returncode == 2
    assert "unknown section poetry" in result.stderr
    assert "Traceback" not in result.stderr


def test_personas_add_list_remove():
    added = cli("personas", "add", "street", "a street photographer who loves grain")
    assert added.returncode == 0, added.stderr
    listed = cli("personas", "list").stdout
    assert "street (yours): a street photographer who loves grain" in listed
    assert "introvert (built-in)" in listed
    assert cli("personas", "remove", "street").returncode == 0
    assert "street" not in cli("personas", "list").stdout
