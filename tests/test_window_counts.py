"""Token counts of corpus windows from the corpus's own encoding: exact where given, refused where they could be wrong."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import AddedToken, normalizers, pre_tokenizers

from genai_bench.sampling import PromptSampler
from genai_bench.scenarios import parse_scenario
from genai_bench.tokenizer import BUILTIN_TOKENIZER_PATH, CORPUS_PATH, Tokenizer, builtin_tokenizer
from genai_bench.window_counts import WindowCounts
from tests.test_sampling import CountingTokenizer

TEXT = CORPUS_PATH.read_text(encoding="utf-8")


def _builtin_copy() -> HFTokenizer:
    return HFTokenizer.from_file(str(BUILTIN_TOKENIZER_PATH))


def _sampler_text(tokenizer: Tokenizer) -> str:
    return PromptSampler(tokenizer, seed=0)._text


def test_counts_match_the_tokenizer_on_every_window_they_give():
    tokenizer = builtin_tokenizer()
    text = _sampler_text(tokenizer)
    counts = WindowCounts.of(tokenizer, text)
    assert counts is not None
    rng = np.random.default_rng(7)
    given = refused = 0
    for _ in range(1500):
        begin = int(rng.integers(len(text) - 1))
        end = min(len(text), begin + int(rng.integers(1, 3000)))
        known = counts.count(begin, end)
        if known is None:
            refused += 1
            continue
        given += 1
        assert known == tokenizer.count(text[begin:end]), (begin, end)
    # Random character offsets mostly fall inside words: both kinds must have occurred for the test to mean much.
    assert given > 50 and refused > 50


def test_a_cut_inside_a_word_is_refused():
    tokenizer = builtin_tokenizer()
    text = _sampler_text(tokenizer)
    counts = WindowCounts.of(tokenizer, text)
    word = text.index(" score")
    assert counts.count(word, word + 6) == tokenizer.count(text[word:word + 6])
    assert counts.count(word + 2, word + 6) is None  # starts inside " score"
    assert counts.count(word, word + 4) is None  # ends inside it
    assert counts.count(word, word) is None


@pytest.mark.parametrize("change", ["normalizer", "prefix_space", "added_token_in_text"])
def test_tokenizers_that_look_beyond_a_pre_token_get_no_counts(change):
    backend = _builtin_copy()
    text = _sampler_text(builtin_tokenizer())
    if change == "normalizer":
        backend.normalizer = normalizers.Lowercase()
    elif change == "prefix_space":
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    else:
        backend.add_tokens([AddedToken(" score", normalized=False)])
    assert WindowCounts.of(Tokenizer(backend, "changed"), text) is None


class MiscountingTokenizer(Tokenizer):
    """Counts one token too many on long texts: the corpus's encoding no longer agrees with it."""

    def count(self, text: str) -> int:
        real = super().count(text)
        return real + 1 if real > 50 else real


def test_the_self_check_turns_the_counts_off_at_a_disagreement():
    honest = builtin_tokenizer()
    text = _sampler_text(honest)
    assert WindowCounts.of(honest, text) is not None
    assert WindowCounts.of(MiscountingTokenizer(honest._backend, "liar"), text) is None


def test_prompts_are_the_same_as_counting_every_one():
    """Same seed, same requests: the counts only replace tokenizer calls, so every prompt is identical."""
    tokenizer = builtin_tokenizer()
    fast, slow = PromptSampler(tokenizer, seed=3), PromptSampler(tokenizer, seed=3)
    slow._window_counts = None
    assert fast._window_counts is not None
    sizes = list(range(1, 200)) + [100] * 300 + [1000, 4096, 20000]
    fast_rng, slow_rng = np.random.default_rng(11), np.random.default_rng(11)
    fast_prompts = [fast.prompt(n, fast_rng) for n in sizes]
    assert fast_prompts == [slow.prompt(n, slow_rng) for n in sizes]
    assert [tokenizer.count(p) for p in fast_prompts] == sizes
    # Requests stay as distinct as before: 300 draws of 100 tokens from a 15k-token corpus.
    assert len(set(fast_prompts[199:499])) >= 295


def test_most_prompts_need_no_tokenizer_call():
    tokenizer = CountingTokenizer(builtin_tokenizer())
    sampler = PromptSampler(tokenizer, seed=1)
    tokenizer.calls["count"] = 0  # construction (filler choice, self-check) counts on its own
    rng = np.random.default_rng(2)
    scenario = parse_scenario("D(100,100)")
    requests = [sampler.sample(scenario, rng) for _ in range(300)]
    assert all(r.num_input_tokens == 100 == builtin_tokenizer().count(r.prompt) for r in requests)
    # About four windows in five start and end on pre-token boundaries; the rest are counted as before.
    assert tokenizer.calls["count"] <= 0.4 * len(requests)
    assert len({r.prompt for r in requests}) >= 295
