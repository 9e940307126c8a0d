"""Reinforcement learning with a grader: policy gradient with a group baseline and a KL penalty.

Each step samples `rollouts_per_prompt` answers to each of `batch_size` prompts with the job's
sampling settings and grades them. The objective, E[reward] - kl_beta * KL(pi || ref) with ref
the frozen starting weights, has the score-function gradient
E[(reward - kl_beta * (log pi - log ref)) * grad log pi]; each answer's weight is that shaped
reward less its mean over the prompt's group (the baseline). `kl` is the mean of
log pi - log ref over the answers, an unbiased estimate when they are drawn at temperature 1
with top_p 1 (log-probs are always the model's own), and `train_loss` is the negated
objective, kl_beta * kl - mean_reward.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from infra.reference.model import Adam, Params, TokenSequence, backward, forward
from infra.reference.sampling import generate
from infra.reference.trainer import data
from infra.reference.trainer.grading import Grader
from infra.reference.trainer.protocol import Job
from infra.reference.trainer.training import Step, Training

LEARNING_RATE = 1e-2  # rewards start sparse; the tiny model needs big steps to find them


@dataclass(frozen=True)
class _Rollout:
    prompt: data.Prompt
    sequence: TokenSequence  # the prompt and the answer, the answer's tokens learned
    text: str


def start(job: Job, params: Params, rng: np.random.Generator) -> Training:
    settings, hyper = job.rl, job.hyperparameters
    assert settings is not None  # Job refuses an rl job without its settings
    prompts = data.read_training(job.training_file, data.rl_prompt)
    grader = Grader(settings.grader)
    adam = Adam.for_params(params, LEARNING_RATE * hyper.learning_rate_multiplier)
    reference = params.copy()
    sampling = settings.sampling

    def sample_answer(prompt: data.Prompt) -> _Rollout:
        answer = list(generate(params, prompt.messages, max_tokens=sampling.max_tokens,
                               temperature=sampling.temperature, top_p=sampling.top_p, rng=rng))
        return _Rollout(prompt, data.answer_sequence(prompt.tokens, [t.id for t in answer]),
                        "".join(token.text for token in answer))

    def steps() -> Iterator[Step]:
        for batch in data.batches(prompts, hyper.batch_size, rng):
            rollouts = [sample_answer(prompt) for prompt in batch
                        for _ in range(settings.rollouts_per_prompt)]
            calls_before = grader.calls
            rewards = np.array([grader(r.text, r.prompt.item) for r in rollouts])
            sequences = [rollout.sequence for rollout in rollouts]
            policy = forward(params, sequences)
            kl = policy.sequence_logprobs() - forward(reference, sequences).sequence_logprobs()
            shaped = (rewards - settings.kl_beta * kl).reshape(len(batch), -1)
            advantages = (shaped - shaped.mean(axis=1, keepdims=True)).ravel()
            weights = -advantages / len(rollouts)  # d loss / d log pi of each answer
            adam.step(params, backward(params, policy, weights[policy.positions.owners]))
            calls = grader.calls - calls_before
            metrics = {"mean_reward": float(rewards.mean()), "kl": float(kl.mean()),
                       "train_loss": float(settings.kl_beta * kl.mean() - rewards.mean()),
                       "grader_calls": float(calls)}
            yield Step(metrics, data.token_count(sequences), calls)

    return Training(steps())
