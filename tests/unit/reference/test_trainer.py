"""The trainer as the executor runs it: job file in, JSON lines out, weights on disk."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from infra.reference.model import init_params, load, save
from infra.reference.trainer.loop import train
from infra.reference.trainer.protocol import Job, TrainingError
from tests.unit.reference.factories import (
    chat_rows,
    job_dict,
    make_job,
    prompt_rows,
    write_job,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parents[3]
TRAINER = [sys.executable, "-m", "infra.reference.trainer"]


def run_trainer(job_file: Path) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run([*TRAINER, str(job_file)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def test_a_job_reports_every_step_and_checkpoint_then_succeeds(tmp_path: Path) -> None:
    job_file = write_job(tmp_path, "supervised", chat_rows(),
                         validation_file=write_jsonl(tmp_path / "valid.jsonl", chat_rows(4)))
    code, lines = run_trainer(job_file)
    assert code == 0
    assert [line["type"] for line in lines] == ["started", *["metrics"] * 5, "checkpoint",
                                                *["metrics"] * 5, "checkpoint", "succeeded"]
    assert lines[0] == {"type": "started", "total_steps": 10,
                        "parameters": init_params(0).count()}
    metrics = [line for line in lines if line["type"] == "metrics"]
    assert [line["step"] for line in metrics] == list(range(1, 11))
    assert {"train_loss", "train_mean_token_accuracy", "tokens"} <= set(metrics[0]["metrics"])
    assert "valid_loss" not in metrics[0]["metrics"]
    checkpoints = [line for line in lines if line["type"] == "checkpoint"]
    assert [c["step"] for c in checkpoints] == [5, 10]
    assert checkpoints[1]["metrics"] == metrics[9]["metrics"]
    assert "valid_loss" in checkpoints[0]["metrics"]
    out = tmp_path / "out"
    assert checkpoints[0]["path"] == str(out / "checkpoint-step-0005.npz")
    succeeded = lines[-1]
    assert succeeded["model_path"] == str(out / "model.npz")
    assert succeeded["trained_tokens"] == sum(m["metrics"]["tokens"] for m in metrics)
    assert succeeded["grader_calls"] == 0
    assert load(succeeded["model_path"]).count() == lines[0]["parameters"]
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint-step-0005.npz", "checkpoint-step-0010.npz", "model.npz"]


def test_sigterm_finishes_the_step_and_reports_cancelled(tmp_path: Path) -> None:
    job_file = write_job(tmp_path, "supervised", chat_rows(), total_steps=100_000,
                         checkpoint_every=100_000)
    with subprocess.Popen([*TRAINER, str(job_file)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as process:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["type"] == "started"
        assert json.loads(process.stdout.readline())["type"] == "metrics"
        process.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in process.stdout]
        assert process.wait(timeout=30) == 0
    steps_done = [1] + [line["step"] for line in rest if line["type"] == "metrics"]
    assert rest[-1] == {"type": "cancelled", "step": steps_done[-1]}
    assert not (tmp_path / "out" / "model.npz").exists()


def test_an_error_it_can_name_is_a_failed_line_and_a_clean_exit(tmp_path: Path) -> None:
    job_file = write_job(tmp_path, "supervised", [{"messages": "not a list"}])
    code, lines = run_trainer(job_file)
    assert code == 0
    assert lines == [{"type": "failed", "code": "invalid_training_file",
                      "message": "train.jsonl, line 1: 'messages' must be a list of message "
                                 "objects."}]


def test_a_job_file_it_cannot_use_is_a_crash(tmp_path: Path) -> None:
    code, lines = run_trainer(tmp_path / "missing.json")
    assert (code, lines) == (1, [])
    for wrong in ({"method": "ppo"}, {"method": "rl", "rl": None}, {"total_steps": 0}):
        path = tmp_path / "wrong.json"
        path.write_text(json.dumps({**job_dict(tmp_path, "supervised", chat_rows()), **wrong}))
        with pytest.raises(ValueError):
            Job.read(path)


def test_unusable_base_weights_fail_the_job(tmp_path: Path) -> None:
    (tmp_path / "base.npz").write_text("not weights")
    job = make_job(tmp_path, "supervised", chat_rows(), base_weights=str(tmp_path / "base.npz"))
    with pytest.raises(TrainingError) as raised:
        train(job, threading.Event())
    assert raised.value.code == "invalid_base_weights"


def test_a_job_trains_from_the_base_weights_it_is_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(init_params(5), tmp_path / "base.npz")
    job = make_job(tmp_path, "supervised", chat_rows(), base_weights=str(tmp_path / "base.npz"),
                   total_steps=1)
    train(job, threading.Event())
    first = json.loads(capsys.readouterr().out.splitlines()[1])
    train(make_job(tmp_path, "supervised", chat_rows(), total_steps=1), threading.Event())
    assert json.loads(capsys.readouterr().out.splitlines()[1]) != first


def test_a_failing_python_grader_fails_an_rl_job(tmp_path: Path) -> None:
    rl = {"grader": {"type": "python", "source": "def grade(sample, item):\n    return 1 / 0\n"},
          "rollouts_per_prompt": 2, "kl_beta": 0.01,
          "sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 4}}
    job = make_job(tmp_path, "rl", prompt_rows(), rl=rl)
    with pytest.raises(TrainingError) as raised:
        train(job, threading.Event())
    assert raised.value.code == "grader_error"
    assert "ZeroDivisionError" in raised.value.message


@pytest.mark.parametrize(("method", "rows"), [("supervised", chat_rows()),
                                              ("rl", prompt_rows())])
def test_the_same_seed_reports_the_same_lines(tmp_path: Path, method: str,
                                              rows: list[dict[str, Any]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path, method, rows, total_steps=6, checkpoint_every=3)
    train(job, threading.Event())
    first = capsys.readouterr().out
    train(job, threading.Event())
    assert capsys.readouterr().out == first
    train(make_job(tmp_path, method, rows, total_steps=6, checkpoint_every=3, seed=43),
          threading.Event())
    assert capsys.readouterr().out != first
