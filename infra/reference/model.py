"""The reference model: a byte-level MLP language model in numpy, with exact gradients.

Each token is predicted from the `context` tokens before it (left-padded with PAD): their
embeddings, concatenated, go through one tanh layer and a softmax over the 256 byte values and
EOS. It is tiny so that training and serving run on any CPU in seconds: it is for development
and tests, not a real LLM. Training asks for the gradient of a weighted sum of token log-probs,
which covers supervised, DPO and policy-gradient losses alike.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BASE_MODEL = "reference-byte-lm"  # exactly init_params(0): random weights that know nothing
TOKENIZER = "bytes"
EOS = 256
VOCAB = 257  # what the model predicts: the 256 byte values and EOS
PAD = 257  # fills the context before the first token; an input id only, never predicted
FORMAT_VERSION = 1
ARRAYS = ("embedding", "w1", "b1", "w2", "b2")
OUTPUT_INIT_SCALE = 0.01  # near-zero logits: the untrained model is close to uniform


class WeightsError(ValueError):
    """A weights file this code cannot use: unreadable, another format version or shape."""


@dataclass(frozen=True)
class Sizes:
    context: int = 16
    embed: int = 24
    hidden: int = 96


@dataclass(frozen=True)
class Params:
    """The weights, or (from `backward`) their gradients. Adam updates the arrays in place."""

    sizes: Sizes
    embedding: FloatArray  # (VOCAB + 1, embed): one row per input id, PAD included
    w1: FloatArray  # (context * embed, hidden)
    b1: FloatArray  # (hidden,)
    w2: FloatArray  # (hidden, VOCAB)
    b2: FloatArray  # (VOCAB,)

    def arrays(self) -> dict[str, FloatArray]:
        return {name: getattr(self, name) for name in ARRAYS}

    def count(self) -> int:
        """The number of parameters."""
        return sum(array.size for array in self.arrays().values())

    def copy(self) -> Params:
        return Params(self.sizes, *(array.copy() for array in self.arrays().values()))


def shapes(sizes: Sizes) -> dict[str, tuple[int, ...]]:
    return {"embedding": (VOCAB + 1, sizes.embed),
            "w1": (sizes.context * sizes.embed, sizes.hidden), "b1": (sizes.hidden,),
            "w2": (sizes.hidden, VOCAB), "b2": (VOCAB,)}


def init_params(seed: int, sizes: Sizes | None = None) -> Params:
    """Random weights, the same for the same seed; `init_params(0)` is the base model."""
    sizes = sizes or Sizes()
    rng = np.random.default_rng(seed)
    shape = shapes(sizes)
    return Params(sizes,
                  embedding=rng.normal(0.0, 1.0, shape["embedding"]),
                  w1=rng.normal(0.0, (sizes.context * sizes.embed) ** -0.5, shape["w1"]),
                  b1=np.zeros(shape["b1"]),
                  w2=rng.normal(0.0, OUTPUT_INIT_SCALE, shape["w2"]),
                  b2=np.zeros(shape["b2"]))


@dataclass(frozen=True)
class TokenSequence:
    """Token ids and the loss mask: which of them are predicted (and so learned)."""

    tokens: tuple[int, ...]
    mask: tuple[bool, ...]


@dataclass(frozen=True)
class Positions:
    """The predicted positions of a batch: each one's context window, target and sequence."""

    contexts: IntArray  # (n, context)
    targets: IntArray  # (n,)
    owners: IntArray  # (n,): index of the position's sequence in the batch
    sequences: int


def positions(batch: Sequence[TokenSequence], context: int) -> Positions:
    contexts, targets, owners = [], [], []
    for owner, sequence in enumerate(batch):
        tokens = np.asarray(sequence.tokens, dtype=np.int64)
        mask = np.asarray(sequence.mask, dtype=bool)
        padded = np.concatenate([np.full(context, PAD, dtype=np.int64), tokens])
        windows = np.lib.stride_tricks.sliding_window_view(padded, context)[:len(tokens)]
        contexts.append(windows[mask])
        targets.append(tokens[mask])
        owners.append(np.full(int(mask.sum()), owner, dtype=np.int64))
    return Positions(np.concatenate(contexts), np.concatenate(targets), np.concatenate(owners),
                     len(batch))


def _layers(params: Params, contexts: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Inputs (concatenated embeddings), hidden activations and log-softmax of the logits."""
    sizes = params.sizes
    inputs = params.embedding[contexts].reshape(len(contexts), sizes.context * sizes.embed)
    hidden = np.tanh(inputs @ params.w1 + params.b1)
    logits = hidden @ params.w2 + params.b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    return inputs, hidden, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Forward:
    """The log-prob of every predicted token of a batch, and what `backward` needs."""

    positions: Positions
    inputs: FloatArray
    hidden: FloatArray
    probs: FloatArray  # (n, VOCAB)
    logprobs: FloatArray  # (n,)

    def sequence_logprobs(self) -> FloatArray:
        """Each sequence's summed log-prob of its predicted tokens."""
        sums = np.bincount(self.positions.owners, weights=self.logprobs,
                           minlength=self.positions.sequences)
        return sums.astype(np.float64)

    def accuracy(self) -> float:
        """The share of predicted tokens that are the model's most likely choice."""
        return float(np.mean(self.probs.argmax(axis=1) == self.positions.targets))


def forward(params: Params, batch: Sequence[TokenSequence]) -> Forward:
    found = positions(batch, params.sizes.context)
    inputs, hidden, logprobs = _layers(params, found.contexts)
    chosen = logprobs[np.arange(len(found.targets)), found.targets]
    return Forward(found, inputs, hidden, np.exp(logprobs), chosen)


def backward(params: Params, result: Forward, weights: FloatArray) -> Params:
    """The gradient of `sum(weights * result.logprobs)` for every array of `params`.

    Pass a loss's derivative by each token log-prob as `weights` to get the loss's gradient.
    """
    found, count = result.positions, len(weights)
    d_logits = -weights[:, None] * result.probs
    d_logits[np.arange(count), found.targets] += weights
    d_hidden = (d_logits @ params.w2.T) * (1.0 - result.hidden ** 2)
    d_inputs = (d_hidden @ params.w1.T).reshape(count, params.sizes.context, params.sizes.embed)
    d_embedding = np.zeros_like(params.embedding)
    np.add.at(d_embedding, found.contexts, d_inputs)
    return Params(params.sizes, d_embedding, result.inputs.T @ d_hidden, d_hidden.sum(axis=0),
                  result.hidden.T @ d_logits, d_logits.sum(axis=0))


def next_logprobs(params: Params, tokens: Sequence[int]) -> FloatArray:
    """Log-probs of the token that follows `tokens` (only the last `context` of them count)."""
    context = params.sizes.context
    window = [PAD] * context + list(tokens[-context:])
    return _layers(params, np.asarray([window[-context:]], dtype=np.int64))[2].reshape(VOCAB)


@dataclass
class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction; `step` updates the params in place."""

    learning_rate: float
    first: dict[str, FloatArray]
    second: dict[str, FloatArray]
    steps: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    @classmethod
    def for_params(cls, params: Params, learning_rate: float) -> Adam:
        zeros = {name: np.zeros_like(array) for name, array in params.arrays().items()}
        return cls(learning_rate, zeros, {name: z.copy() for name, z in zeros.items()})

    def step(self, params: Params, grads: Params) -> None:
        """One descent step along `grads`, the gradient of the loss."""
        self.steps += 1
        correction1 = 1.0 - self.beta1 ** self.steps
        correction2 = 1.0 - self.beta2 ** self.steps
        weights = params.arrays()
        for name, grad in grads.arrays().items():
            first, second = self.first[name], self.second[name]
            first += (1.0 - self.beta1) * (grad - first)
            second += (1.0 - self.beta2) * (grad ** 2 - second)
            step = self.learning_rate * (first / correction1)
            weights[name] -= step / (np.sqrt(second / correction2) + self.epsilon)


def save(params: Params, path: str | Path) -> None:
    """Write an .npz atomically (a reader never sees half a file), sizes and version included."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    sizes = params.sizes
    contents: dict[str, Any] = {
        "format_version": np.int64(FORMAT_VERSION),
        "sizes": np.array([sizes.context, sizes.embed, sizes.hidden, VOCAB]),
        **params.arrays()}
    with partial.open("wb") as file:
        np.savez(file, **contents)
    os.replace(partial, path)


def load(path: str | Path) -> Params:
    """Weights written by `save`; WeightsError if the file is unusable for any reason."""
    try:
        with np.load(path, allow_pickle=False) as file:
            version = int(file["format_version"])
            declared = [int(size) for size in file["sizes"]]
            arrays = {name: np.asarray(file[name], dtype=np.float64) for name in ARRAYS}
    except (OSError, KeyError, TypeError, ValueError, IndexError, zipfile.BadZipFile) as error:
        raise WeightsError(f"Cannot read reference weights from {path}: {error}") from None
    if version != FORMAT_VERSION:
        raise WeightsError(f"{path} has format version {version}; expected {FORMAT_VERSION}.")
    if len(declared) != 4 or declared[3] != VOCAB or min(declared) < 1:
        raise WeightsError(f"{path} declares sizes {declared}; expected [context, embed, "
                           f"hidden, {VOCAB}].")
    sizes = Sizes(*declared[:3])
    for name, shape in shapes(sizes).items():
        if arrays[name].shape != shape or not np.isfinite(arrays[name]).all():
            raise WeightsError(f"{path}: '{name}' is not a finite array of shape {shape}.")
    return Params(sizes, *arrays.values())
