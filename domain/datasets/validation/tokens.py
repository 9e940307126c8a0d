"""Token statistics in constant memory, without randomness.

Example lengths go into a histogram: one exact counter per length below EXACT_LIMIT tokens
(a fixed 512 kB array), and above it buckets that keep the top 10 significant bits of the length
(relative error under 0.2%, a few hundred buckets at most). So p50 and p95 (nearest rank) are
exact whenever the examples at those ranks are shorter than EXACT_LIMIT tokens, whatever the
number of examples; total, max and the count over the context length are always exact.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field

from domain.datasets.validation.report import TokenStats

EXACT_LIMIT = 65_536
SIGNIFICANT_BITS = 10


def _bucket_floor(tokens: int) -> int:
    """The smallest length that shares this length's top SIGNIFICANT_BITS bits."""
    shift = tokens.bit_length() - SIGNIFICANT_BITS
    return (tokens >> shift) << shift


@dataclass
class TokenTally:
    context_length: int | None
    estimated: bool
    count: int = 0
    total: int = 0
    longest: int = 0
    over_context: int = 0
    exact: array[int] = field(default_factory=lambda: array("q", bytes(8 * EXACT_LIMIT)))
    coarse: Counter[int] = field(default_factory=Counter)

    def is_too_long(self, tokens: int) -> bool:
        return self.context_length is not None and tokens > self.context_length

    def add(self, tokens: int) -> None:
        self.count += 1
        self.total += tokens
        self.longest = max(self.longest, tokens)
        self.over_context += self.is_too_long(tokens)
        if tokens < EXACT_LIMIT:
            self.exact[tokens] += 1
        else:
            self.coarse[_bucket_floor(tokens)] += 1

    def percentile(self, p: float) -> int:
        """Nearest-rank percentile (0 when there are no examples)."""
        if not self.count:
            return 0
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for length, n in enumerate(self.exact):
            seen += n
            if seen >= rank:
                return length
        for length in sorted(self.coarse):
            seen += self.coarse[length]
            if seen >= rank:
                return length
        return self.longest  # unreachable: the counts add up to self.count

    def stats(self) -> TokenStats:
        return TokenStats(total=self.total, p50=self.percentile(50), p95=self.percentile(95),
                          max=self.longest, over_context=self.over_context,
                          estimated=self.estimated)
