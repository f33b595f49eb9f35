"""What a benchmark sends: each request's prompt and output limit, from a traffic scenario or a dataset, with optional
prefixes shared by groups of requests; and `workload_description`, the one description of it that the experiment
metadata (`workload`) and the live status context carry.

A Workload has PromptSampler's `sample(scenario, rng, index)`, so a run's UpcomingRequests draws from it the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from genai_bench.config import BenchmarkConfig
from genai_bench.images import IMAGE_TASK, ImageMaker, chat_messages, image_tokens
from genai_bench.prompt_datasets import Dataset, DatasetSpec, load_dataset
from genai_bench.sampling import PromptSampler, SampledRequest
from genai_bench.scenarios import DATASET, IMAGE, TRACE, Scenario, prefix_tokens
from genai_bench.tokenizer import Tokenizer
from genai_bench.trace import Trace, TracePrompts, load_trace

# Between a shared prefix and the rest of the prompt, so that their tokens do not merge at the seam.
PREFIX_SEPARATOR = "\n"
# The most of a dataset's text D/N/U prompts are cut from (its first rows): its tokens' offsets are kept in memory.
MAX_CORPUS_CHARS = 4_000_000
# Datasets of up to this many rows are counted in native batches before the sweep (about 1 ms a row with the built-in
# tokenizer, too much to spend while requests are timed); larger ones row by row, as each row is first drawn.
PRECOUNT_MAX_ROWS = 20_000
_PRECOUNT_BATCH = 1024
# Draws of a prefix text before accepting one equal to another group's (a corpus too small to give distinct ones).
_DISTINCT_TRIES = 8


def workload_description(config: BenchmarkConfig, dataset: Dataset | None) -> dict:
    """The workload as the metadata's `workload` and the status context show it: {"dataset", "prefix", "trace",
    "images"}."""
    spec = config.dataset
    return {
        "images": None if config.task != IMAGE_TASK else {
            "format": config.image_format, "column": spec.image_column if spec is not None else None},
        "trace": None if config.trace is None else {"path": config.trace, "speed": config.trace_speed},
        "dataset": None if dataset is None or spec is None else {
            **dataset.describe(), "prompt_column": spec.prompt_column, "output_column": spec.output_column},
        "prefix": None if config.prefix_len is None and config.prefix_ratio is None else {
            "tokens": config.prefix_len, "ratio": config.prefix_ratio, "groups": config.prefix_groups},
    }


@dataclass(frozen=True)
class WorkloadSpec:
    """The settings a Workload is built from, in this process or a worker's (to_dict/from_dict cross the wire)."""

    dataset: DatasetSpec | None = None
    prefix_len: int | None = None
    prefix_ratio: float | None = None
    prefix_groups: int = 1
    prefix_seed: int = 0  # the prefixes' (and trace blocks') text, the same in every process of a benchmark
    trace: str | None = None  # --trace: its path
    image_format: str = "jpeg"  # --image-format of image-text-to-text requests

    @classmethod
    def of(cls, config: BenchmarkConfig) -> WorkloadSpec:
        """The spec of a benchmark; without --seed its prefixes get a random seed, shared with its workers."""
        seed = config.seed if config.seed is not None else secrets.randbits(63)
        return cls(config.dataset, config.prefix_len, config.prefix_ratio, config.prefix_groups, seed, config.trace,
                   config.image_format)

    def to_dict(self) -> dict:
        """Plain values (JSON) for a worker's settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WorkloadSpec:
        """The spec from to_dict's values."""
        dataset = DatasetSpec(**data["dataset"]) if data.get("dataset") else None
        return cls(**{**data, "dataset": dataset})


@dataclass(frozen=True)
class Prefix:
    """One group's shared prefix: its text, the character offset where each of its tokens ends, and the text a
    longer prompt starts with (the prefix and the separator)."""

    text: str
    ends: list[int]
    head: str
    head_tokens: int

    @property
    def tokens(self) -> int:
        """The prefix's length in tokens."""
        return len(self.ends)


class Workload:
    """Builds each request of a run: a scenario's token-exact prompt or a dataset row, behind its group's prefix.

    The corpus (the built-in one, or the dataset's text) is tokenized once, when first needed; each prefix set once
    per length; each dataset row counted once (before the sweep for a dataset of moderate size), then cached.
    """

    def __init__(self, tokenizer: Tokenizer, spec: WorkloadSpec | None = None, dataset: Dataset | None = None,
                 group_offset: int = 0, trace: Trace | None = None) -> None:
        self.tokenizer = tokenizer
        self.spec = spec = spec or WorkloadSpec()
        self.dataset = dataset
        self.group_offset = group_offset  # a worker's index: its first request takes the next group, not group 0
        self._sampler: PromptSampler | None = None
        self._prefixes: dict[int, list[Prefix]] = {}
        self._row_tokens: dict[int, tuple[int, int | None]] = {}  # row -> its prompt's and reference answer's tokens
        self.trace = trace
        self._trace_prompts: TracePrompts | None = None
        self._images: ImageMaker | None = None

    @classmethod
    def load(cls, tokenizer: Tokenizer, spec: WorkloadSpec, group_offset: int = 0) -> Workload:
        """A workload whose dataset and trace (if any) are read here, by path (a worker process loads its own)."""
        return cls(tokenizer, spec, load_dataset(spec.dataset) if spec.dataset else None, group_offset,
                   load_trace(spec.trace) if spec.trace else None)

    @property
    def sampler(self) -> PromptSampler:
        """Token-exact prompts from the dataset's text, or from the built-in corpus without a dataset."""
        if self._sampler is None:
            corpus = None
            if self.dataset is not None:
                corpus = self.dataset.corpus_text()
                if len(corpus) > MAX_CORPUS_CHARS:
                    corpus = corpus[:corpus.rfind("\n", 0, MAX_CORPUS_CHARS) + 1] or corpus[:MAX_CORPUS_CHARS]
            self._sampler = PromptSampler(self.tokenizer, corpus_text=corpus)
        return self._sampler

    @property
    def trace_prompts(self) -> TracePrompts:
        """The trace's prompts, from the corpus (the dataset's text, when given) and the shared seed."""
        if self._trace_prompts is None:
            self._trace_prompts = TracePrompts(self.trace, self.sampler, self.tokenizer, self.spec.prefix_seed)
        return self._trace_prompts

    @property
    def images(self) -> ImageMaker:
        """The maker of image-text-to-text requests' images (a dataset's relative image paths start at its folder)."""
        if self._images is None:
            base = None
            if self.spec.dataset is not None:
                path = Path(self.spec.dataset.path)
                base = path if path.is_dir() else path.parent
            self._images = ImageMaker(self.spec.image_format, base)
        return self._images

    def prepare(self, scenarios: Iterable[Scenario]) -> Workload:
        """Tokenize the corpus and build the prefixes the scenarios need now, not during their runs."""
        for scenario in scenarios:
            tokens = prefix_tokens(scenario, self.spec.prefix_len, self.spec.prefix_ratio)
            if tokens is not None:
                self.prefixes(tokens)
            elif scenario.kind != DATASET:
                _ = self.sampler
            if scenario.kind == IMAGE:
                _ = self.images  # Pillow imported and checked before the sweep, not during its first run
            if scenario.kind == DATASET and len(self.dataset.conversations) <= PRECOUNT_MAX_ROWS:
                rows = [row for row in range(len(self.dataset.conversations)) if row not in self._row_tokens]
                for first in range(0, len(rows), _PRECOUNT_BATCH):
                    self._count_rows(rows[first:first + _PRECOUNT_BATCH])
        return self

    def prefixes(self, tokens: int) -> list[Prefix]:
        """The run's shared prefixes of `tokens` tokens, one per group, built once (the same text for a seed)."""
        built = self._prefixes.get(tokens)
        if built is None:
            rng = np.random.default_rng([self.spec.prefix_seed, tokens])
            texts: list[str] = []
            for _ in range(self.spec.prefix_groups):
                text = self.sampler.prompt(tokens, rng)
                for _ in range(_DISTINCT_TRIES):
                    if text not in texts:
                        break
                    text = self.sampler.prompt(tokens, rng)
                texts.append(text)
            heads = [text + PREFIX_SEPARATOR for text in texts]
            built = [Prefix(text, ends, head, head_tokens) for text, (_, ends), head, head_tokens in zip(
                texts, self.tokenizer.encode_batch_with_ends(texts), heads, map(len, self.tokenizer.encode_batch(heads)))]
            self._prefixes[tokens] = built
        return built

    def sample(self, scenario: Scenario, rng: np.random.Generator, index: int = 0) -> SampledRequest:
        """The run's request number `index`: its prompt from `rng`, its prefix group in turn (a trace's line
        `index`, its prompt built from its hash ids' blocks)."""
        if scenario.kind == TRACE:
            return self.trace_prompts.request(index)
        if scenario.kind == IMAGE:
            return self._image_request(scenario, rng)
        tokens = prefix_tokens(scenario, self.spec.prefix_len, self.spec.prefix_ratio)
        prefix = None
        if tokens is not None:
            group = (index + self.group_offset) % self.spec.prefix_groups
            prefix = self.prefixes(tokens)[group]
        if scenario.kind == DATASET:
            return self._dataset_request(rng, prefix)
        if prefix is None:
            return self.sampler.sample(scenario, rng)
        num_in, num_out = scenario.sample(rng)
        return SampledRequest(self._behind(prefix, num_in, rng), num_in, num_out)

    def _image_request(self, scenario: Scenario, rng: np.random.Generator) -> SampledRequest:
        """An I(w,h,count) request: its text, then `count` images of w x h, in one user message.

        With a dataset, like upstream, each image comes with a random row: the rows' prompts joined are the text, their
        images (--dataset-image-column) resized to w x h, and the first row's reference answer sets max_tokens. Rows
        without an image, and requests without a dataset, get generated images; the text is then a corpus prompt.
        """
        width, height = scenario.image_size
        if self.dataset is None:
            num_text, num_out = scenario.sample(rng)
            text, sources = self.sampler.prompt(num_text, rng), [None] * scenario.num_images
        else:
            rows = [self.dataset.conversations[int(rng.integers(len(self.dataset.conversations)))]
                    for _ in range(scenario.num_images)]
            text, sources = " ".join(row.prompt for row in rows), [row.image for row in rows]
            answer = rows[0].reference_answer
            num_text, num_out = self.tokenizer.count(text), (self.tokenizer.count(answer) or None) if answer else None
        images = [self.images.generate(width, height, int(rng.integers(2**63))) if source is None
                  else self.images.load(source, width, height) for source in sources]
        num_in = num_text + sum(image_tokens(image.width, image.height) for image in images)
        return SampledRequest(chat_messages(text, images), num_in, num_out, len(images),
                              sum(image.nbytes for image in images))

    def _behind(self, prefix: Prefix, num_tokens: int, rng: np.random.Generator) -> str:
        """A `num_tokens`-token prompt starting with `prefix`; a draw no longer than it gets its first tokens."""
        if num_tokens >= prefix.head_tokens:
            return self.sampler.prompt(num_tokens, rng, prefix.head, prefix.head_tokens)
        if num_tokens > prefix.tokens:
            return self.sampler.prompt(num_tokens, rng, prefix.text, prefix.tokens)
        clipped = prefix.text[:prefix.ends[num_tokens - 1]]
        if self.tokenizer.count(clipped) == num_tokens:
            return clipped
        return self.sampler.prompt(num_tokens, rng)  # the cut re-merged: a plain prompt keeps the count exact

    def _dataset_request(self, rng: np.random.Generator, prefix: Prefix | None) -> SampledRequest:
        """A random row's prompt as it is (behind the prefix), limited to its reference answer's length if any.

        Behind a prefix, the input is the prefix's tokens (with the separator) plus the row's: the separator keeps
        them from merging, and the server's usage, when it reports one, is what the record keeps.
        """
        row = int(rng.integers(len(self.dataset.conversations)))
        if row not in self._row_tokens:
            self._count_rows([row])
        num_in, num_out = self._row_tokens[row]
        prompt = self.dataset.conversations[row].prompt
        if prefix is not None:
            prompt, num_in = prefix.head + prompt, prefix.head_tokens + num_in
        return SampledRequest(prompt, num_in, num_out)

    def _count_rows(self, rows: list[int]) -> None:
        """Count the prompts and reference answers of `rows` in one native call, into the cache."""
        conversations = self.dataset.conversations
        answers = [conversations[row].reference_answer or "" for row in rows]
        counts = self.tokenizer.count_batch([conversations[row].prompt for row in rows] + answers)
        for row, prompt_tokens, answer_tokens in zip(rows, counts, counts[len(rows):]):
            self._row_tokens[row] = (prompt_tokens, answer_tokens or None)
