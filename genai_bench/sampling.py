"""Prompt sampling: token-exact prompts cut from the bundled corpus under the active tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genai_bench.scenarios import Scenario
from genai_bench.tokenizer import CORPUS_PATH, Tokenizer

# Window resizes before falling back to filler padding; each costs one decode and one encode.
_MAX_RESIZES = 3
# Attempts at padding with filler before giving up on corpus text altogether.
_MAX_PAD_TRIES = 3
# Words that are one token on their own in nearly every vocabulary; the first that behaves is used.
_FILLER_CANDIDATES = (" the", " a", " and", " of", " to", " I", "the", "a", " x", " .", ".")


@dataclass(frozen=True)
class SampledRequest:
    """One request's prompt with its exact input token count and the output length to force."""

    prompt: str
    num_input_tokens: int
    max_output_tokens: int


class PromptSampler:
    """Cuts prompts of an exact token count from the corpus, tokenized once at construction."""

    def __init__(self, tokenizer: Tokenizer, seed: int | None = None, corpus_path: Path | None = None) -> None:
        self.tokenizer = tokenizer
        self._rng = np.random.default_rng(seed)
        self._ids = _tokenize_corpus(tokenizer, corpus_path or CORPUS_PATH)
        self._filler = _pick_filler(tokenizer)

    def prompt(self, num_tokens: int) -> str:
        """Text whose token count under the sampler's tokenizer is exactly `num_tokens`."""
        if num_tokens < 1:
            raise ValueError(f"num_tokens must be positive, got {num_tokens}")
        start = int(self._rng.integers(len(self._ids)))
        length = num_tokens
        for _ in range(_MAX_RESIZES):
            text = self._window(start, length)
            count = self.tokenizer.count(text)
            if count == num_tokens:
                return text
            # Boundary tokens re-merge differently once decoded; shift the window end by the miss.
            length = max(0, length + num_tokens - count)
        return self._pad_to(start, length, num_tokens)

    def sample(self, scenario: Scenario) -> SampledRequest:
        """Draw token counts from `scenario` and build the matching prompt."""
        num_in, num_out = scenario.sample(self._rng)
        return SampledRequest(self.prompt(num_in), num_in, num_out)

    def _window(self, start: int, length: int) -> str:
        if length <= 0:
            return ""
        # mode="wrap" lets a window run past the end of the corpus (and repeat it for long prompts).
        ids = np.take(self._ids, np.arange(start, start + length), mode="wrap")
        return self.tokenizer.decode(ids.tolist())

    def _pad_to(self, start: int, length: int, num_tokens: int) -> str:
        """Shrink the window until it fits, then pad with single-token filler words to the exact count."""
        text = self._window(start, length)
        count = self.tokenizer.count(text)
        while count > num_tokens and length > 0:
            length = max(0, min(length - 1, length * num_tokens // count - 1))
            text = self._window(start, length)
            count = self.tokenizer.count(text)
        for _ in range(_MAX_PAD_TRIES):
            padded = text + self._filler * (num_tokens - count)
            padded_count = self.tokenizer.count(padded)
            if padded_count == num_tokens:
                return padded
            # The filler merged with the text's last word; drop that word's worth and retry.
            text = text[: max(0, len(text) - 8)]
            count = self.tokenizer.count(text)
        return self._filler_only(num_tokens)

    def _filler_only(self, num_tokens: int) -> str:
        text = self._filler * num_tokens
        if self.tokenizer.count(text) != num_tokens:
            raise RuntimeError(f"cannot build a {num_tokens}-token prompt with tokenizer {self.tokenizer.name!r}")
        return text


def _tokenize_corpus(tokenizer: Tokenizer, corpus_path: Path) -> np.ndarray:
    lines = [line for line in corpus_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"corpus {corpus_path} is empty")
    # A newline between paragraphs keeps byte-level BPE from merging across them; tokenizers that
    # drop whitespace give it no ids at all, which is fine.
    separator = tokenizer.encode("\n")
    parts: list[list[int]] = []
    for ids in tokenizer.encode_batch(lines):
        parts.append(ids)
        parts.append(separator)
    ids = np.fromiter((i for part in parts for i in part), dtype=np.int64)
    if ids.size == 0:
        raise ValueError(f"corpus {corpus_path} encodes to no tokens")
    return ids


def _pick_filler(tokenizer: Tokenizer) -> str:
    for word in _FILLER_CANDIDATES:
        if all(tokenizer.count(word * k) == k for k in (1, 2, 7)) and _appends_cleanly(tokenizer, word):
            return word
    raise ValueError(f"tokenizer {tokenizer.name!r} has no single-token filler word; cannot build exact prompts")


def _appends_cleanly(tokenizer: Tokenizer, word: str) -> bool:
    base = "It was the best of times"
    return tokenizer.count(base + word * 3) == tokenizer.count(base) + 3
