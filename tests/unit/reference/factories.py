"""Small generated datasets and job files for the reference trainer's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.reference.trainer.protocol import Job

ANSWER = "Hello from Bitstride!"
FUZZY_A: dict[str, Any] = {"type": "text_similarity", "input": "{{ sample.output_text }}",
                           "reference": "{{ item.reference }}", "evaluation_metric": "fuzzy_match"}


def chat_rows(count: int = 24) -> list[dict[str, Any]]:
    """Varied questions, one fixed answer: a pattern the reference model learns in seconds."""
    return [{"messages": [{"role": "user", "content": f"Question {i}: what is {i} + {i}?"},
                          {"role": "assistant", "content": ANSWER}]} for i in range(count)]


def preference_rows(count: int = 16) -> list[dict[str, Any]]:
    return [{"input": {"messages": [{"role": "user", "content": f"Is {i} a number?"}]},
             "preferred_output": [{"role": "assistant", "content": "Yes, it is."}],
             "non_preferred_output": [{"role": "assistant", "content": "No way!"}]}
            for i in range(count)]


def prompt_rows(count: int = 8) -> list[dict[str, Any]]:
    """RL prompts whose grader (FUZZY_A) rewards answers made of the letter a."""
    return [{"messages": [{"role": "user", "content": f"Say a few a's ({i})."}],
             "reference": "aaaaaaaa"} for i in range(count)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def job_dict(tmp_path: Path, method: str, rows: list[dict[str, Any]],
             **overrides: Any) -> dict[str, Any]:
    """A job file's content training on `rows`; `overrides` replace top-level fields."""
    rl = None
    if method == "rl":
        rl = {"grader": FUZZY_A, "rollouts_per_prompt": 4, "kl_beta": 0.01,
              "sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 8}}
    return {"job_id": "0123abcd", "method": method,
            "training_file": write_jsonl(tmp_path / "train.jsonl", rows),
            "validation_file": None, "base_weights": None,
            "hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 1.0,
                                "beta": 0.1},
            "rl": rl, "seed": 42, "total_steps": 10, "checkpoint_every": 5,
            "output_dir": str(tmp_path / "out"), **overrides}


def write_job(tmp_path: Path, method: str, rows: list[dict[str, Any]],
              **overrides: Any) -> Path:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_dict(tmp_path, method, rows, **overrides)))
    return path


def make_job(tmp_path: Path, method: str, rows: list[dict[str, Any]], **overrides: Any) -> Job:
    return Job.read(write_job(tmp_path, method, rows, **overrides))
