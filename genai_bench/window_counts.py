"""Token counts of corpus windows without running the tokenizer, for tokenizers that tokenize each pre-token alone.

Building a token-exact prompt costs a tokenizer count of the whole prompt (about 1 µs per token with the built-in
byte-level BPE), which in a benchmark is as much CPU per request as reading its answer. Most tokenizers (GPT-2 style
byte-level BPE, Llama 3, Qwen, BERT's WordPiece, ...) split text into pre-tokens with a regex and then tokenize each
pre-token on its own. For those, a slice of the corpus that starts where a pre-token starts and ends where one ends
tokenizes exactly as that stretch of the whole corpus does: the regex scan from a match start sees the same
characters, and each pre-token gets the same tokens. So its count is a difference of two positions in the corpus's
own encoding. Tokenizers whose normalizer or pre-tokenizer looks beyond that (a normalizer, a prefix space added at
the start, a look-behind) are not served, nor are corpora holding an added token; a self-check against real counts
at construction turns the shortcut off at the first disagreement, so a count is either exact or not given.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from genai_bench.tokenizer import Tokenizer

# Larger corpora (a dataset's whole text) would spend over a second more at start-up (about 90 ms per 60k characters
# here): they are counted as before.
MAX_CORPUS_CHARS = 1_000_000
# Windows compared with real counts at construction (lengths up to 400 tokens, from a fixed seed).
SELF_CHECKS = 48
_START, _END = 1, 2
# Pieces of a pre-tokenizer's settings that make a piece's tokens depend on characters before it (a space or a
# marker added at the start of the text, a look-behind, a word boundary); anything subtler the self-check catches.
_NON_LOCAL = (b'"add_prefix_space":true', b'"prepend_scheme":"first"', b"(?<", b"\\\\b", b"\\\\B")


class WindowCounts:
    """Exact token counts of slices text[begin:end] of one corpus whose ends fall on pre-token boundaries."""

    def __init__(self, token_ends: list[int], bounds: bytearray) -> None:
        self._ends = token_ends
        self._bounds = bounds  # per character position: _START if a pre-token starts there, _END if one ends there

    @classmethod
    def of(cls, tokenizer: Tokenizer, text: str) -> WindowCounts | None:
        """The counts for `text` under `tokenizer`, or None when the tokenizer (or the text) does not allow them."""
        if len(text) > MAX_CORPUS_CHARS or not local_tokenizer(tokenizer, text):
            return None
        bounds = bytearray(len(text) + 1)
        for start, end in tokenizer.pre_token_spans(text):
            bounds[start] |= _START
            bounds[end] |= _END
        counts = cls(tokenizer.token_ends(text), bounds)
        return counts if counts._agrees(tokenizer, text) else None

    def count(self, begin: int, end: int) -> int | None:
        """Tokens in text[begin:end], or None when the slice does not start and end on pre-token boundaries."""
        if begin >= end or not (self._bounds[begin] & _START and self._bounds[end] & _END):
            return None
        return bisect_right(self._ends, end) - bisect_right(self._ends, begin)

    def _agrees(self, tokenizer: Tokenizer, text: str) -> bool:
        """True when every checked window's count matches the tokenizer's own (a fixed seed: the same checks each
        time)."""
        rng = np.random.default_rng(0)
        starts = [i for i in range(len(text)) if self._bounds[i] & _START]
        ends = [i for i in range(1, len(text) + 1) if self._bounds[i] & _END]
        if not starts or not ends:
            return False
        for _ in range(SELF_CHECKS):
            begin = starts[int(rng.integers(len(starts)))]
            index = bisect_right(ends, begin) + int(rng.integers(1, 400))
            end = ends[min(index, len(ends) - 1)]
            if end > begin and self.count(begin, end) != tokenizer.count(text[begin:end]):
                return False
        return True


def local_tokenizer(tokenizer: Tokenizer, text: str) -> bool:
    """True when `tokenizer` tokenizes each pre-token of `text` on its own (see the module's docstring)."""
    settings = tokenizer.pipeline_settings()
    if settings is None:
        return False
    has_normalizer, pre_tokenizer, dropout, added = settings
    if has_normalizer or pre_tokenizer is None or dropout:
        return False
    if any(part in pre_tokenizer for part in _NON_LOCAL):
        return False
    return not any(token and token in text for token in added)
