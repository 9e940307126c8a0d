"""The fast path: a plain chat row checked in one loop, without building any finding.

Most rows of a fine-tuning file are plain: `{"messages": [...]}` and nothing else, each message
with a role, a text content, perhaps a name and a weight. A decoder outside the domain (the
`PlainChatDecoder` port, at C speed) turns such a line into its messages and refuses every other
line. The loop below then applies the chat rules of `messages` and `rows` to them and answers
only "valid, with these texts to count" or "look closer". A row it does not accept goes through
the detailed path, which says what is wrong; one it accepts must be one the detailed path finds
nothing in (the property test in tests/unit/datasets/test_validation_fast_path.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from domain.datasets.validation.messages import LEADING_ROLES


class PlainMessage(Protocol):
    """One message of a plain row, as the decoder vouches for it."""

    @property
    def role(self) -> str: ...  # any string: the loop checks it

    @property
    def content(self) -> str: ...

    @property
    def weight(self) -> object: ...  # an int (never a bool) if the row gives one, else no int


# Given a raw line (bytes, newline included), the messages of a row that `json.loads` reads as
# exactly {"messages": [...]}, every message holding only role (str), content (str), name (str)
# and weight (int) with role and content present; None for any other line.
PlainChatDecoder = Callable[[bytes], Sequence[PlainMessage] | None]


def plain_chat_texts(messages: Sequence[PlainMessage]) -> list[str] | None:
    """The texts to count of a chat row with no finding at all, or None to check it in detail.

    The same rules as `check_chat` on a plain row: system or developer only first, then a user
    turn, a tool only after an assistant or a tool; every content non-blank; a weight only on an
    assistant and only 0 or 1; at least one assistant message that is learned from.
    """
    texts, previous, learns = [], None, False
    for position, message in enumerate(messages):
        role, content, weight = message.role, message.content, message.weight
        if role in LEADING_ROLES:
            if position:
                return None
        elif role == "user" or (previous is not None and (
                role == "assistant" or (role == "tool" and previous != "user"))):
            previous = role
        else:
            return None  # an unknown role, or a turn out of order
        if isinstance(weight, int) and (
                role != "assistant" or isinstance(weight, bool) or weight not in (0, 1)):
            return None
        if not content.strip():
            return None
        learns = learns or (role == "assistant" and weight != 0)
        texts.append(content)
    return texts if learns else None
