"""The `text_similarity` grader's metrics: each scores a candidate against a reference in [0, 1].

All but `fuzzy_match` compare whitespace-separated tokens, case-sensitive, and give an empty
text 0. Our own small implementations, with these choices:
- `fuzzy_match`: difflib's SequenceMatcher ratio on the characters (no junk heuristic).
- `bleu`: sentence BLEU up to 4-grams (fewer for a shorter candidate) with a brevity penalty,
  smoothed by adding 1 to the matches and counts of 2-grams and longer (Lin & Och, 2004), so
  one missing 4-gram does not zero the score.
- `gleu`: Google BLEU (Wu et al., 2016): matching 1- to 4-grams over the larger of the two
  texts' n-gram counts.
- `meteor`: simplified to METEOR's unigram F-mean (recall weighted 9:1) on exact matches; no
  stemming, synonyms or fragmentation penalty.
- `rouge_1` .. `rouge_5`: the F1 of matching n-grams; `rouge_l`: the F1 of the longest common
  subsequence.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

MAX_ORDER = 4


def fuzzy_match(candidate: str, reference: str) -> float:
    return difflib.SequenceMatcher(None, candidate, reference, autojunk=False).ratio()


def _ngrams(tokens: Sequence[str], order: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + order]) for i in range(len(tokens) - order + 1))


def _matches(candidate: Sequence[str], reference: Sequence[str], order: int) -> int:
    """N-grams of the candidate found in the reference, each counted at most as often."""
    return sum((_ngrams(candidate, order) & _ngrams(reference, order)).values())


def _count(tokens: Sequence[str], order: int) -> int:
    return max(len(tokens) - order + 1, 0)


def _f1(matches: int, candidate_count: int, reference_count: int) -> float:
    if not matches:
        return 0.0
    return 2 * matches / (candidate_count + reference_count)


def bleu(candidate: str, reference: str) -> float:
    ours, theirs = candidate.split(), reference.split()
    if not ours or not theirs or not _matches(ours, theirs, 1):
        return 0.0
    orders = min(MAX_ORDER, len(ours))
    log_precision = sum(math.log(_smoothed_precision(ours, theirs, n))
                        for n in range(1, orders + 1))
    brevity = min(1.0, math.exp(1 - len(theirs) / len(ours)))
    return brevity * math.exp(log_precision / orders)


def _smoothed_precision(candidate: Sequence[str], reference: Sequence[str], order: int) -> float:
    smoothing = 0 if order == 1 else 1
    return (_matches(candidate, reference, order) + smoothing) / (_count(candidate, order)
                                                                  + smoothing)


def gleu(candidate: str, reference: str) -> float:
    ours, theirs = candidate.split(), reference.split()
    orders = range(1, MAX_ORDER + 1)
    total = max(sum(_count(ours, n) for n in orders), sum(_count(theirs, n) for n in orders))
    return sum(_matches(ours, theirs, n) for n in orders) / total if total else 0.0


def meteor(candidate: str, reference: str) -> float:
    ours, theirs = candidate.split(), reference.split()
    matches = _matches(ours, theirs, 1)
    if not matches:
        return 0.0
    precision, recall = matches / len(ours), matches / len(theirs)
    return 10 * precision * recall / (recall + 9 * precision)


def rouge_n(candidate: str, reference: str, order: int) -> float:
    ours, theirs = candidate.split(), reference.split()
    return _f1(_matches(ours, theirs, order), _count(ours, order), _count(theirs, order))


def _longest_common_subsequence(first: Sequence[str], second: Sequence[str]) -> int:
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for j, other in enumerate(second):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1],
                                                                       current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    ours, theirs = candidate.split(), reference.split()
    return _f1(_longest_common_subsequence(ours, theirs), len(ours), len(theirs))


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match, "bleu": bleu, "gleu": gleu, "meteor": meteor,
    **{f"rouge_{n}": partial(rouge_n, order=n) for n in range(1, 6)},
    "rouge_l": rouge_l,
}
