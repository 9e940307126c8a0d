"""Supervised fine-tuning: minimize the mean negative log-likelihood of the assistant tokens."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from infra.reference.model import Adam, Params, TokenSequence, backward, forward
from infra.reference.trainer import data
from infra.reference.trainer.protocol import Job
from infra.reference.trainer.training import Step, Training

LEARNING_RATE = 3e-3
EVAL_BATCH = 64


def start(job: Job, params: Params, rng: np.random.Generator) -> Training:
    examples = data.read_training(job.training_file, data.chat_sequence)
    validation = data.read_validation(job.validation_file, data.chat_sequence)
    hyper = job.hyperparameters
    adam = Adam.for_params(params, LEARNING_RATE * hyper.learning_rate_multiplier)

    def steps() -> Iterator[Step]:
        for batch in data.batches(examples, hyper.batch_size, rng):
            result = forward(params, batch)
            count = len(result.logprobs)
            adam.step(params, backward(params, result, np.full(count, -1.0 / count)))
            metrics = {"train_loss": -float(result.logprobs.mean()),
                       "train_mean_token_accuracy": result.accuracy()}
            yield Step(metrics, data.token_count(batch))

    def evaluate() -> dict[str, float]:
        return {"valid_loss": _mean_loss(params, validation)} if validation else {}

    return Training(steps(), evaluate)


def _mean_loss(params: Params, examples: Sequence[TokenSequence]) -> float:
    """The mean per-token negative log-likelihood over all `examples`."""
    total, count = 0.0, 0
    for chunk in data.chunks(examples, EVAL_BATCH):
        logprobs = forward(params, chunk).logprobs
        total, count = total - float(logprobs.sum()), count + len(logprobs)
    return total / count
