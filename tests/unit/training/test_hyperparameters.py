"""Requested hyperparameters: ranges, "auto", OpenAI's param paths, and resolution."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.shared.errors import ValidationFailedError
from domain.training.hyperparameters import auto_epochs, checked, resolve
from domain.training.specs import PinnedFile, fine_tuning_spec, rl_spec
from tests.unit.training.factories import GRADER

PARAM = "method.supervised.hyperparameters"


def test_missing_values_are_auto_and_numbers_are_kept() -> None:
    assert checked("supervised", {"n_epochs": 4}, param=PARAM) == {
        "n_epochs": 4, "batch_size": "auto", "learning_rate_multiplier": "auto"}
    assert checked("dpo", None, param="p")["beta"] == "auto"


@pytest.mark.parametrize(("key", "value"), [
    ("n_epochs", 0), ("n_epochs", 51), ("n_epochs", 2.5), ("n_epochs", True), ("n_epochs", "3"),
    ("batch_size", 0), ("batch_size", 257), ("learning_rate_multiplier", 0),
    ("learning_rate_multiplier", 10.5), ("learning_rate_multiplier", float("inf")),
    ("learning_rate_multiplier", "AUTO"),
])
def test_out_of_range_values_name_their_param(key: str, value: Any) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        checked("supervised", {key: value}, param=PARAM)
    assert raised.value.param == f"{PARAM}.{key}"


def test_beta_only_for_dpo_and_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationFailedError) as raised:
        checked("supervised", {"beta": 0.1}, param=PARAM)
    assert raised.value.param == f"{PARAM}.beta"
    assert checked("dpo", {"beta": 2}, param="x")["beta"] == 2.0
    with pytest.raises(ValidationFailedError) as dpo:
        checked("dpo", {"beta": 2.5}, param="method.dpo.hyperparameters")
    assert dpo.value.param == "method.dpo.hyperparameters.beta"


@pytest.mark.parametrize(("examples", "epochs"), [(1, 25), (10, 10), (34, 3), (40, 3),
                                                   (8333, 3), (10_000, 2), (100_000, 1)])
def test_auto_epochs_follow_the_dataset_size(examples: int, epochs: int) -> None:
    assert auto_epochs(examples) == epochs


def test_resolve_is_deterministic_and_keeps_given_values() -> None:
    requested = checked("dpo", {"batch_size": 8}, param="p")
    resolved = resolve(requested, 40)
    assert resolved == {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.0,
                        "beta": 0.1}
    assert resolve(requested, 40) == resolved
    assert resolve(checked("supervised", None, param="p"), 200_000)["batch_size"] == 256


def test_specs_nest_params_like_openai() -> None:
    pinned = PinnedFile(uuid4(), 1)
    with pytest.raises(ValidationFailedError) as method:
        fine_tuning_spec(method="reinforcement", hyperparameters=None, training_file=pinned,
                         validation_file=None, suffix=None, examples=10)
    assert method.value.param == "method.type"
    with pytest.raises(ValidationFailedError) as suffix:
        fine_tuning_spec(method="supervised", hyperparameters=None, training_file=pinned,
                         validation_file=None, suffix="bad suffix!", examples=10)
    assert suffix.value.param == "suffix"
    with pytest.raises(ValidationFailedError) as rl:
        rl_spec(training_file=pinned, grader=GRADER, rollouts_per_prompt=4, kl_beta=0.1,
                sampling=None, hyperparameters={"n_epochs": 0}, examples=10)
    assert rl.value.param == "hyperparameters.n_epochs"
    for sampling, param in (({"top_p": 0}, "sampling.top_p"),
                            ({"temperature": 3}, "sampling.temperature"),
                            ({"max_tokens": 0}, "sampling.max_tokens"),
                            ({"top_k": 5}, "sampling.top_k")):
        with pytest.raises(ValidationFailedError) as bad:
            rl_spec(training_file=pinned, grader=GRADER, rollouts_per_prompt=None,
                    kl_beta=None, sampling=sampling, hyperparameters=None, examples=10)
        assert bad.value.param == param
    with pytest.raises(ValidationFailedError) as rollouts:
        rl_spec(training_file=pinned, grader=GRADER, rollouts_per_prompt=0, kl_beta=None,
                sampling=None, hyperparameters=None, examples=10)
    assert rollouts.value.param == "rollouts_per_prompt"
