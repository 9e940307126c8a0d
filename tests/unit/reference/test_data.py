"""Reading the training files and walking them in seeded batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from infra.reference import chat
from infra.reference.trainer import data
from infra.reference.trainer.protocol import TrainingError
from tests.unit.reference.factories import chat_rows, preference_rows, prompt_rows, write_jsonl


def test_only_assistant_messages_with_weight_are_learned() -> None:
    row = {"messages": [{"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "skip", "weight": 0},
                        {"role": "user", "content": "Again"},
                        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]}
    sequence = data.chat_sequence(row)
    learned = [t for t, m in zip(sequence.tokens, sequence.mask, strict=True) if m]
    assert learned == chat.target_tokens("ok")


def test_a_long_conversation_keeps_its_end() -> None:
    row = {"messages": [{"role": "user", "content": "x" * 500},
                        {"role": "assistant", "content": "the end"}]}
    sequence = data.chat_sequence(row)
    assert len(sequence.tokens) == data.MAX_TOKENS
    assert sequence.tokens[-8:] == tuple(chat.target_tokens("the end"))


def test_a_preference_pair_shares_its_prompt() -> None:
    pair = data.preference_pair(preference_rows(1)[0])
    prompt = chat.prompt_tokens([{"role": "user", "content": "Is 0 a number?"}])
    assert pair.chosen.tokens == (*prompt, *chat.target_tokens("Yes, it is."))
    assert pair.rejected.tokens == (*prompt, *chat.target_tokens("No way!"))
    assert sum(pair.rejected.mask) == len(chat.target_tokens("No way!"))


def test_an_rl_prompt_gives_its_other_fields_to_the_grader() -> None:
    prompt = data.rl_prompt(prompt_rows(1)[0])
    assert prompt.item == {"reference": "aaaaaaaa"}
    assert prompt.tokens == tuple(chat.prompt_tokens(prompt.messages))


@pytest.mark.parametrize(("lines", "message"), [
    ('{"messages": []}\n{"messages": [{"role": "user", "content": "Hi"}]}\n',
     "line 1: no assistant message"),
    ('\n{"messages": [{"role": "assistant", "content": "ok"}]}\n[1]\n', "line 3: each line"),
    ("{oops\n", "line 1: Expecting"),
    ('{"rows": []}\n', "line 1: missing 'messages'"),
    ("\n\n", "has no examples"),
])
def test_bad_training_data_is_named_with_its_line(tmp_path: Path, lines: str,
                                                  message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(lines)
    with pytest.raises(TrainingError) as raised:
        data.read_training(str(path), data.chat_sequence)
    assert raised.value.code == "invalid_training_file"
    assert message in raised.value.message


def test_validation_is_optional_and_has_its_own_code(tmp_path: Path) -> None:
    assert data.read_validation(None, data.chat_sequence) == []
    with pytest.raises(TrainingError) as raised:
        data.read_validation(str(tmp_path / "missing.jsonl"), data.chat_sequence)
    assert raised.value.code == "invalid_validation_file"


def test_rows_are_read_in_file_order(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", chat_rows(3))
    assert data.read_training(path, data.chat_sequence) == [
        data.chat_sequence(row) for row in chat_rows(3)]


def test_batches_walk_every_example_once_per_epoch_in_a_seeded_order() -> None:
    items = list(range(10))
    walk = data.batches(items, 4, np.random.default_rng(5))
    first_epochs = [next(walk) for _ in range(5)]  # 20 items: exactly two epochs
    assert all(len(batch) == 4 for batch in first_epochs)
    assert Counter(i for batch in first_epochs for i in batch) == Counter(items * 2)
    again = data.batches(items, 4, np.random.default_rng(5))
    assert [next(again) for _ in range(5)] == first_epochs
    assert first_epochs[0] != items[:4] or first_epochs[1] != items[4:8]
