"""Token counters for dataset validation.

No exact tokenizer works offline here: tiktoken downloads its BPE files on first use, and the
machines that run Bitstride may have no internet. So every model gets the estimate below, and
reports say `estimated: true`. An exact adapter (e.g. tiktoken with its files vendored) would
implement the same `TokenCounter` port and be returned by `token_counter_for`.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.datasets.ports import TokenCounter

BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class ByteEstimateCounter:
    """ceil(UTF-8 bytes / 4): OpenAI's rule of thumb of ~4 characters per token of English.

    It tends to overcount code and undercount CJK text (3 bytes a character, often a token
    each); it is for limits and cost estimates, never for billing.
    """

    name: str = "estimate-bytes-per-4"
    estimated: bool = True

    def count(self, text: str) -> int:
        # JSON may escape a lone surrogate ("\ud800"); counted as its 3 bytes, never a crash.
        return -(-len(text.encode("utf-8", "surrogatepass")) // BYTES_PER_TOKEN)


def token_counter_for(tokenizer: str | None) -> TokenCounter:
    """The counter for a base model's tokenizer name; the estimate while none is offline."""
    del tokenizer  # every tokenizer maps to the estimate until one is available offline
    return ByteEstimateCounter()
