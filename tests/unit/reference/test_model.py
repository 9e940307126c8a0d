"""The reference model: exact gradients, the base model, Adam, and its weights files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from infra.reference.model import (
    FORMAT_VERSION,
    PAD,
    VOCAB,
    Adam,
    Params,
    Sizes,
    TokenSequence,
    WeightsError,
    backward,
    forward,
    init_params,
    load,
    positions,
    save,
)

TINY = Sizes(context=3, embed=2, hidden=4)


def sequence(tokens: list[int], learned_from: int = 0) -> TokenSequence:
    return TokenSequence(tuple(tokens), tuple(i >= learned_from for i in range(len(tokens))))


def objective(params: Params, batch: list[TokenSequence], weights: np.ndarray) -> float:
    return float(weights @ forward(params, batch).logprobs)


def test_backward_matches_finite_differences() -> None:
    params = init_params(3, TINY)
    params.w2[...] = np.random.default_rng(1).normal(0.0, 1.0, params.w2.shape)  # not ~0
    batch = [sequence([5, 256, 7, 7, 9], learned_from=1), sequence([1, 2], learned_from=0)]
    weights = np.random.default_rng(2).normal(0.0, 1.0, 6)
    grads = backward(params, forward(params, batch), weights)
    step = 1e-6
    for name, array in params.arrays().items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + step
            above = objective(params, batch, weights)
            array[index] = saved - step
            below = objective(params, batch, weights)
            array[index] = saved
            numeric[index] = (above - below) / (2 * step)
        assert np.allclose(grads.arrays()[name], numeric, rtol=1e-5, atol=1e-8), name


def test_contexts_are_the_previous_tokens_left_padded() -> None:
    found = positions([sequence([10, 11, 12, 13], learned_from=1)], context=3)
    assert found.contexts.tolist() == [[PAD, PAD, 10], [PAD, 10, 11], [10, 11, 12]]
    assert found.targets.tolist() == [11, 12, 13]
    assert found.owners.tolist() == [0, 0, 0]


def test_the_base_model_is_a_fixed_init_that_knows_nothing() -> None:
    base = init_params(0)
    assert all(np.array_equal(a, b) for a, b in zip(base.arrays().values(),
                                                     init_params(0).arrays().values(),
                                                     strict=True))
    assert not np.array_equal(base.w1, init_params(1).w1)
    loss = -forward(base, [sequence(list(b"hello world"))]).logprobs.mean()
    assert loss == pytest.approx(math.log(VOCAB), abs=0.1)


def test_adam_lowers_the_loss_it_is_given() -> None:
    params = init_params(0, TINY)
    adam = Adam.for_params(params, learning_rate=0.05)
    batch = [sequence(list(b"abcabcabc"))]
    losses = []
    for _ in range(30):
        result = forward(params, batch)
        losses.append(-float(result.logprobs.mean()))
        count = len(result.logprobs)
        adam.step(params, backward(params, result, np.full(count, -1.0 / count)))
    assert losses[-1] < 0.2 * losses[0]


def test_save_then_load_gives_the_same_weights(tmp_path: Path) -> None:
    params = init_params(7, Sizes(context=5, embed=3, hidden=8))
    save(params, tmp_path / "w.npz")
    loaded = load(tmp_path / "w.npz")
    assert loaded.sizes == params.sizes
    for name, array in params.arrays().items():
        assert np.array_equal(loaded.arrays()[name], array), name
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no partial file left behind


def rewritten(tmp_path: Path, **changes: object) -> Path:
    """A saved base model's file with some entries replaced."""
    save(init_params(0, TINY), tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as good:
        contents = {name: good[name] for name in good.files}
    path = tmp_path / "bad.npz"
    np.savez(path, **{**contents, **changes})
    return path


@pytest.mark.parametrize("changes", [
    {"format_version": np.int64(FORMAT_VERSION + 1)},
    {"sizes": np.array([3, 2, 4, 300])},
    {"w1": np.zeros((2, 2))},
    {"b1": np.full(4, np.nan)},
])
def test_load_refuses_what_it_cannot_use(tmp_path: Path, changes: dict[str, object]) -> None:
    with pytest.raises(WeightsError):
        load(rewritten(tmp_path, **changes))


def test_load_refuses_a_file_that_is_not_weights(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("not a zip file")
    np.save(tmp_path / "array.npy", np.zeros(3))
    for path in (tmp_path / "text.npz", tmp_path / "array.npy", tmp_path / "missing.npz"):
        with pytest.raises(WeightsError):
            load(path)
