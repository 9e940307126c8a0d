"""Each training method learns its toy task (in process, seeded, a second or so each)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from infra.reference.model import init_params
from infra.reference.sampling import complete
from infra.reference.trainer import dpo, rl, supervised
from infra.reference.trainer.training import Step, Training
from tests.unit.reference.factories import (
    ANSWER,
    chat_rows,
    make_job,
    preference_rows,
    prompt_rows,
    write_jsonl,
)


def run(training: Training, steps: int) -> list[dict[str, float]]:
    return [step.metrics for step in itertools.islice(training.steps, steps)]


def test_supervised_learns_the_answer(tmp_path: Path) -> None:
    job = make_job(tmp_path, "supervised", chat_rows(),
                   validation_file=write_jsonl(tmp_path / "valid.jsonl", chat_rows(4)))
    params = init_params(0)
    training = supervised.start(job, params, np.random.default_rng(job.seed))
    before = training.evaluate()["valid_loss"]
    losses = [metrics["train_loss"] for metrics in run(training, 40)]
    assert losses[-1] < 0.1 * losses[0]
    assert training.evaluate()["valid_loss"] < 0.1 * before
    question = [{"role": "user", "content": "Question 99: what is 99 + 99?"}]
    assert complete(params, question, max_tokens=40, temperature=0).text == ANSWER


def test_dpo_prefers_the_preferred_answer(tmp_path: Path) -> None:
    job = make_job(tmp_path, "dpo", preference_rows())
    training = dpo.start(job, init_params(0), np.random.default_rng(job.seed))
    metrics = run(training, 10)
    assert (metrics[0]["reward_margin"], metrics[0]["reward_accuracy"]) == (0.0, 0.0)
    assert metrics[-1]["reward_accuracy"] == 1.0
    assert metrics[-1]["reward_margin"] > 1.0
    assert metrics[-1]["train_loss"] < 0.5 * metrics[0]["train_loss"]


def test_rl_raises_the_reward(tmp_path: Path) -> None:
    job = make_job(tmp_path, "rl", prompt_rows())
    training = rl.start(job, init_params(0), np.random.default_rng(job.seed))
    steps: list[Step] = list(itertools.islice(training.steps, 24))
    rewards = [step.metrics["mean_reward"] for step in steps]
    assert np.mean(rewards[-4:]) > np.mean(rewards[:4]) + 0.3
    assert steps[0].metrics["kl"] == 0.0
    assert all(step.grader_calls == 16 for step in steps)  # 4 prompts x 4 rollouts
