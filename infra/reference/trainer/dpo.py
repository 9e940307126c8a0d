"""Direct preference optimization (Rafailov et al., 2023) against the frozen starting weights.

Per pair, with log-probs of the whole answers, the margin is
beta * ((log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))) and the
loss is -log sigmoid(margin). The margin is the implicit reward margin; it is 0 at the start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from infra.reference.model import Adam, FloatArray, Forward, Params, backward, forward
from infra.reference.trainer import data
from infra.reference.trainer.protocol import Job
from infra.reference.trainer.training import Step, Training

LEARNING_RATE = 1e-3
EVAL_BATCH = 32


@dataclass(frozen=True)
class _Objective:
    policy: Forward
    margins: FloatArray  # per pair
    losses: FloatArray  # per pair
    weights: FloatArray  # the mean loss's derivative by each token log-prob of `policy`
    tokens: int


def start(job: Job, params: Params, rng: np.random.Generator) -> Training:
    pairs = data.read_training(job.training_file, data.preference_pair)
    validation = data.read_validation(job.validation_file, data.preference_pair)
    hyper = job.hyperparameters
    adam = Adam.for_params(params, LEARNING_RATE * hyper.learning_rate_multiplier)
    reference = params.copy()

    def steps() -> Iterator[Step]:
        for batch in data.batches(pairs, hyper.batch_size, rng):
            objective = _objective(params, reference, batch, hyper.beta)
            adam.step(params, backward(params, objective.policy, objective.weights))
            metrics = {"train_loss": float(objective.losses.mean()),
                       "reward_margin": float(objective.margins.mean()),
                       "reward_accuracy": float(np.mean(objective.margins > 0))}
            yield Step(metrics, objective.tokens)

    def evaluate() -> dict[str, float]:
        if not validation:
            return {}
        losses = [_objective(params, reference, chunk, hyper.beta).losses
                  for chunk in data.chunks(validation, EVAL_BATCH)]
        return {"valid_loss": float(np.concatenate(losses).mean())}

    return Training(steps(), evaluate)


def _objective(params: Params, reference: Params, pairs: Sequence[data.Pair],
               beta: float) -> _Objective:
    sequences = [pair.chosen for pair in pairs] + [pair.rejected for pair in pairs]
    policy = forward(params, sequences)
    implied = policy.sequence_logprobs() - forward(reference, sequences).sequence_logprobs()
    count = len(pairs)
    margins = beta * (implied[:count] - implied[count:])
    losses = np.logaddexp(0.0, -margins)
    # d mean loss / d log pi(chosen) = -beta * sigmoid(-margin) / count; rejected: the opposite
    slope = -beta * np.exp(-np.logaddexp(0.0, margins)) / count
    per_sequence = np.concatenate([slope, -slope])
    return _Objective(policy, margins, losses, per_sequence[policy.positions.owners],
                      data.token_count(sequences))
