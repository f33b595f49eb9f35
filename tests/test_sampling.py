"""Token-exact prompt sampling, the bundled corpus and the built-in tokenizer trained on it."""

from __future__ import annotations

from pathlib import Path

import gevent
import numpy as np
import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from genai_bench import sampling
from genai_bench.sampling import PromptSampler
from genai_bench.scenarios import parse_scenario
from genai_bench.tokenizer import CORPUS_PATH, Tokenizer, builtin_tokenizer, load_tokenizer

# Every small size, then a stride across the range a benchmark uses, ending at 4096 exactly.
SIZES = list(range(1, 257)) + list(range(257, 4096, 31)) + [4095, 4096]
SOME_SIZES = [1, 2, 3, 5, 8, 13, 50, 100, 128, 500, 1000, 2048, 4096]


class CountingTokenizer(Tokenizer):
    """A tokenizer that counts how often each costly call is made."""

    def __init__(self, inner: Tokenizer) -> None:
        super().__init__(inner._backend, inner.name)
        self.calls = {"encode": 0, "encode_batch": 0, "decode": 0, "count": 0}

    def encode(self, text: str) -> list[int]:
        self.calls["encode"] += 1
        return super().encode(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        self.calls["encode_batch"] += 1
        return super().encode_batch(texts)

    def encode_batch_with_ends(self, texts: list[str]) -> list[tuple[list[int], list[int]]]:
        self.calls["encode_batch"] += 1
        return super().encode_batch_with_ends(texts)

    def decode(self, ids: list[int]) -> str:
        self.calls["decode"] += 1
        return super().decode(ids)

    def count(self, text: str) -> int:
        self.calls["count"] += 1
        return super().count(text)


def _train(tmp_path: Path, with_decoder: bool) -> Tokenizer:
    backend = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if with_decoder:
        backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[UNK]"], show_progress=False)
    backend.train([str(CORPUS_PATH)], trainer)
    path = tmp_path / "tokenizer.json"
    backend.save(str(path))
    return load_tokenizer(str(path))


@pytest.fixture(scope="module")
def builtin_sampler() -> PromptSampler:
    return PromptSampler(builtin_tokenizer(), seed=1234)


@pytest.fixture(scope="module")
def wordpiece(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    return _train(tmp_path_factory.mktemp("wordpiece"), with_decoder=True)


@pytest.fixture(scope="module")
def wordpiece_no_decoder(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    # Without a decoder, decode() leaves "##" pieces that re-encode as extra tokens: the hard case.
    return _train(tmp_path_factory.mktemp("wordpiece_raw"), with_decoder=False)


def test_builtin_prompts_are_token_exact(builtin_sampler: PromptSampler) -> None:
    tokenizer = builtin_tokenizer()
    wrong = [n for n in SIZES if tokenizer.count(builtin_sampler.prompt(n)) != n]
    assert wrong == []


def test_test_built_tokenizer_prompts_are_token_exact(wordpiece: Tokenizer) -> None:
    assert wordpiece.name != builtin_tokenizer().name
    sampler = PromptSampler(wordpiece, seed=5)
    sizes = SOME_SIZES + list(range(14, 40))
    wrong = [n for n in sizes if wordpiece.count(sampler.prompt(n)) != n]
    assert wrong == []


def _corpus_words(prompt: str) -> int:
    return len([w for w in prompt.split() if w != "the"])


def test_exact_even_when_decode_does_not_round_trip(wordpiece_no_decoder: Tokenizer) -> None:
    sampler = PromptSampler(wordpiece_no_decoder, seed=6)
    for n in SOME_SIZES:
        prompt = sampler.prompt(n)
        assert wordpiece_no_decoder.count(prompt) == n
        # Exact by padding onto corpus text, not by giving up and sending filler alone.
        assert _corpus_words(prompt) >= n // 4


def test_padding_fallback_is_exact_and_keeps_corpus_text(
    monkeypatch: pytest.MonkeyPatch, wordpiece_no_decoder: Tokenizer
) -> None:
    # With no window resizes allowed, every miss goes straight to shrink-and-pad.
    monkeypatch.setattr(sampling, "_MAX_RESIZES", 0)
    for tokenizer in (builtin_tokenizer(), wordpiece_no_decoder):
        sampler = PromptSampler(tokenizer, seed=9)
        for n in (1, 7, 64, 300, 1000):
            prompt = sampler.prompt(n)
            assert tokenizer.count(prompt) == n
            assert _corpus_words(prompt) >= n // 4


def test_corpus_is_tokenized_once_and_prompts_are_cheap() -> None:
    tokenizer = CountingTokenizer(builtin_tokenizer())
    sampler = PromptSampler(tokenizer, seed=3)
    assert tokenizer.calls["encode_batch"] == 1
    tokenizer.calls.update(encode=0, decode=0, count=0)
    for n in range(1, 201):
        sampler.prompt(n)
    assert tokenizer.calls["encode_batch"] == 1
    # Windows are cut from the corpus text (no decode); one verifying count per prompt is the norm.
    assert tokenizer.calls["decode"] == 0
    assert tokenizer.calls["count"] <= 1.1 * 200


def test_window_resizing_keeps_foreign_tokenizers_cheap(wordpiece: Tokenizer) -> None:
    tokenizer = CountingTokenizer(wordpiece)
    sampler = PromptSampler(tokenizer, seed=4)
    tokenizer.calls.update(encode=0, decode=0, count=0)
    sizes = list(range(1, 101)) + list(range(101, 2000, 19))
    for n in sizes:
        sampler.prompt(n)
    assert tokenizer.calls["count"] / len(sizes) <= 1.5


def test_prompt_comes_from_the_corpus(builtin_sampler: PromptSampler) -> None:
    corpus = CORPUS_PATH.read_text()
    # Paragraph breaks are newlines in both, so each paragraph piece of a window is a corpus substring.
    for _ in range(20):
        prompt = builtin_sampler.prompt(40)
        assert all(piece in corpus for piece in prompt.split("\n")), prompt


def test_window_wraps_past_the_end_of_a_small_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\n\nThe dog lay by the door.\n")
    tokenizer = builtin_tokenizer()
    sampler = PromptSampler(tokenizer, seed=0, corpus_path=corpus)
    for n in (1, 5, 40, 333):
        prompt = sampler.prompt(n)
        assert tokenizer.count(prompt) == n
    assert "cat" in sampler.prompt(333) and "dog" in sampler.prompt(333)


def test_empty_corpus_is_rejected(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n  \n")
    with pytest.raises(ValueError, match="empty"):
        PromptSampler(builtin_tokenizer(), corpus_path=corpus)


@pytest.mark.parametrize("n", [0, -3])
def test_non_positive_size_is_rejected(builtin_sampler: PromptSampler, n: int) -> None:
    with pytest.raises(ValueError):
        builtin_sampler.prompt(n)


def test_same_seed_reproduces_prompts_and_samples() -> None:
    scenario = parse_scenario("N(300,100)/(200,50)")
    a = PromptSampler(builtin_tokenizer(), seed=42)
    b = PromptSampler(builtin_tokenizer(), seed=42)
    assert [a.prompt(n) for n in (10, 100, 1000)] == [b.prompt(n) for n in (10, 100, 1000)]
    assert [a.sample(scenario) for _ in range(20)] == [b.sample(scenario) for _ in range(20)]


def test_different_seeds_differ() -> None:
    scenario = parse_scenario("U(10,500)/(10,500)")
    a = PromptSampler(builtin_tokenizer(), seed=1)
    b = PromptSampler(builtin_tokenizer(), seed=2)
    assert [a.prompt(100) for _ in range(5)] != [b.prompt(100) for _ in range(5)]
    assert [a.sample(scenario) for _ in range(5)] != [b.sample(scenario) for _ in range(5)]


def test_unseeded_samplers_differ() -> None:
    a = PromptSampler(builtin_tokenizer())
    b = PromptSampler(builtin_tokenizer())
    assert [a.prompt(50) for _ in range(5)] != [b.prompt(50) for _ in range(5)]


def test_sample_matches_fixed_scenario(builtin_sampler: PromptSampler) -> None:
    request = builtin_sampler.sample(parse_scenario("D(100,50)"))
    assert request.num_input_tokens == 100
    assert request.max_output_tokens == 50
    assert builtin_tokenizer().count(request.prompt) == 100


@pytest.mark.parametrize("text", ["N(480,240)/(300,150)", "U(50,100)/(200,300)", "U(64,32)"])
def test_sample_matches_random_scenarios(builtin_sampler: PromptSampler, text: str) -> None:
    scenario = parse_scenario(text)
    requests = [builtin_sampler.sample(scenario) for _ in range(30)]
    for request in requests:
        assert builtin_tokenizer().count(request.prompt) == request.num_input_tokens
        assert request.num_input_tokens >= 1 and request.max_output_tokens >= 1
    if scenario.kind == "U":
        lo_in, hi_in, lo_out, hi_out = scenario._uniform_bounds()
        assert all(lo_in <= r.num_input_tokens <= hi_in for r in requests)
        assert all(lo_out <= r.max_output_tokens <= hi_out for r in requests)
    assert len({r.num_input_tokens for r in requests}) > 1


def test_sample_embedding_scenario(builtin_sampler: PromptSampler) -> None:
    request = builtin_sampler.sample(parse_scenario("E(256)"))
    assert (request.num_input_tokens, request.max_output_tokens) == (256, 0)
    assert builtin_tokenizer().count(request.prompt) == 256


def test_sample_with_test_built_tokenizer(wordpiece: Tokenizer) -> None:
    sampler = PromptSampler(wordpiece, seed=11)
    for _ in range(10):
        request = sampler.sample(parse_scenario("U(20,300)/(1,10)"))
        assert wordpiece.count(request.prompt) == request.num_input_tokens


def test_corpus_is_plain_ascii_paragraphs() -> None:
    raw = CORPUS_PATH.read_bytes()
    assert 40_000 <= len(raw) <= 64_000
    raw.decode("ascii")
    lines = raw.decode().splitlines()
    assert len(lines) >= 100
    assert all(line.strip() == line and line for line in lines)
    assert len(set(lines)) == len(lines)


def test_builtin_tokenizer_fits_the_corpus() -> None:
    # A tokenizer.json left stale after a corpus change compresses it noticeably worse.
    tokenizer = builtin_tokenizer()
    text = CORPUS_PATH.read_text()
    chars_per_token = len(text) / tokenizer.count(text)
    assert 3.5 <= chars_per_token <= 4.5
    assert 2048 <= tokenizer.vocab_size <= 4096
    ids = np.array(tokenizer.encode(text))
    assert ids.max() < tokenizer.vocab_size


def upcoming(seed: int, depth: int = 8, text: str = "U(20,300)/(1,10)") -> sampling.UpcomingRequests:
    return sampling.UpcomingRequests(PromptSampler(builtin_tokenizer(), seed=0), parse_scenario(text),
                                     np.random.default_rng(seed), depth)


def test_upcoming_requests_keep_draw_order_however_far_ahead_they_were_built() -> None:
    built_ahead, on_the_spot = upcoming(5), upcoming(5)
    built_ahead.build_ahead(10.0)
    assert built_ahead.ready == 8
    ahead = [built_ahead.next() for _ in range(20)]  # the first 8 from the queue, the rest idle-built or on the spot
    on_demand = [on_the_spot._draw() for _ in range(20)]
    built_ahead.close()
    assert ahead == on_demand
    assert all(builtin_tokenizer().count(r.prompt) == r.num_input_tokens for r in ahead)
    assert ahead != [upcoming(6)._draw() for _ in range(20)]


def test_upcoming_requests_refill_in_idle_moments_up_to_their_depth() -> None:
    requests = upcoming(1, depth=5)
    first = requests.next()  # starts the builder
    gevent.sleep(0.5)  # an idle loop: the builder fills the queue, then waits for the next take
    assert requests.ready == 5
    requests.next()
    gevent.sleep(0.5)
    assert requests.ready == 5
    requests.close()
    gevent.sleep(0)
    assert requests.ready == 0 and requests._builder.dead
    assert first.num_input_tokens >= 20


def test_upcoming_requests_stop_at_their_text_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "MAX_QUEUED_CHARS", 1)
    requests = upcoming(2, depth=50)
    requests.build_ahead(10.0)
    assert requests.ready == 1  # one prompt is already over a 1-character budget
