"""The dataset validator's fast decoder (the domain's `PlainChatDecoder` port), with msgspec.

msgspec decodes a line straight into these typed structs in C, about twice as fast as
`json.loads` builds dicts, and refuses anything off the plain shape: another key, a content
that is not a string, a weight that is not an int, invalid UTF-8 or JSON. A refused line is not
an error here; the validator's detailed path reads it again and explains it.
"""

from __future__ import annotations

import msgspec


class PlainMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    content: str
    name: str | msgspec.UnsetType = msgspec.UNSET
    weight: int | msgspec.UnsetType = msgspec.UNSET


class _PlainChatRow(msgspec.Struct, forbid_unknown_fields=True):
    messages: list[PlainMessage]


_decoder = msgspec.json.Decoder(_PlainChatRow)


def decode_plain_chat(raw: bytes) -> list[PlainMessage] | None:
    """The messages of a plain chat row; None for any other line."""
    try:
        return _decoder.decode(raw).messages
    except ValueError:  # msgspec.DecodeError, or UnicodeDecodeError on invalid UTF-8
        return None
