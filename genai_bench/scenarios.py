"""Traffic scenarios: the D/N/U/E/R/I grammar that says how many tokens (and images) each request sends and asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from genai_bench.images import MAX_IMAGE_SIDE, MAX_IMAGES, image_tokens

VALID_FORMS = (
    "D(in,out), N(mean_in,sd_in)/(mean_out,sd_out), U(min_in,max_in)/(min_out,max_out), "
    "U(max_in,max_out), E(tokens), R(document_tokens,query_tokens), I(width,height), I(width,height,count) or dataset"
)
# The scenario that sends each dataset prompt as it is (--dataset-path), with its reference answer's length.
DATASET = "dataset"
# The scenario of a --trace replay: each request's token counts come from its trace line (never parsed from text).
TRACE = "trace"
# The kind of image scenarios, I(width,height[,count]) (--task image-text-to-text).
IMAGE = "I"
# Scenarios whose requests bring their own token counts.
_OWN_COUNTS = (DATASET, TRACE)
# The text part of an I(...) request when no dataset gives one (upstream takes it from its dataset): a prompt of this
# many tokens, asking for this many output tokens, like the default D(100,100).
IMAGE_TEXT_TOKENS = 100
IMAGE_OUTPUT_TOKENS = 100

# Token counts beyond any model's context window: refused up front rather than failing to allocate the prompt.
MAX_SCENARIO_TOKENS = 1_000_000
_TOO_LARGE = f"token counts must be at most {MAX_SCENARIO_TOKENS:,} (beyond any model's context window)"

_IMAGE_LIMITS = f"image width and height must be 1 to {MAX_IMAGE_SIDE} pixels and the count 1 to {MAX_IMAGES}"

_INT = r"([0-9]+)"  # ASCII digits only: \d would also take other scripts' digits
_PAIR = rf"\({_INT},{_INT}\)"
# One pattern per accepted shape; fullmatch rejects spaces, trailing junk and unknown letters alike.
_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("D", re.compile(rf"D{_PAIR}")),
    ("N", re.compile(rf"N{_PAIR}/{_PAIR}")),
    ("U", re.compile(rf"U{_PAIR}/{_PAIR}")),
    ("U", re.compile(rf"U{_PAIR}")),
    ("E", re.compile(rf"E\({_INT}\)")),
    ("R", re.compile(rf"R{_PAIR}")),  # upstream's order: tokens per document, then tokens per query
    (IMAGE, re.compile(rf"I\({_INT},{_INT}(?:,{_INT})?\)")),
)
# Scenarios whose requests carry inputs to embed or rank, not a prompt to answer: no output tokens.
POOLING_KINDS = ("E", "R")
_NEGATIVE = re.compile(r"[(,]-\d")


class ScenarioError(ValueError):
    """A traffic scenario string that does not follow the grammar; the message is one line."""


def _error(text: object, reason: str | None = None) -> ScenarioError:
    # repr() keeps the message on one line even if the input holds newlines; a long input is cut to a readable line.
    shown = repr(text) if len(repr(text)) <= 80 else repr(text)[:60] + "..."
    detail = f"{reason}; " if reason else ""
    return ScenarioError(f"invalid traffic scenario {shown}: {detail}expected {VALID_FORMS}")


@dataclass(frozen=True)
class Scenario:
    """A parsed traffic scenario: `kind` is D, N, U, E, R or I and `params` its integers in written order."""

    kind: str
    params: tuple[int, ...]

    @property
    def text(self) -> str:
        """Canonical scenario string, e.g. "D(100,100)"."""
        p = self.params
        if self.kind in _OWN_COUNTS:
            return self.kind
        if self.kind == "E":
            return f"E({p[0]})"
        if self.kind == IMAGE:
            return f"I({p[0]},{p[1]})" if p[2] == 1 else f"I({p[0]},{p[1]},{p[2]})"
        if len(p) == 2:  # D, R and the short U
            return f"{self.kind}({p[0]},{p[1]})"
        return f"{self.kind}({p[0]},{p[1]})/({p[2]},{p[3]})"

    @property
    def name(self) -> str:
        """Upstream genai-bench file-name form, e.g. "D100_100", "N480_240_300_150" or "I512_512"."""
        params = self.params[:2] if self.kind == IMAGE and self.params[2] == 1 else self.params
        return self.kind + "_".join(str(v) for v in params)

    @property
    def task_kind(self) -> str:
        """"embedding" for E scenarios, "rerank" for R, "image" for I, "text" otherwise."""
        return {"E": "embedding", "R": "rerank", IMAGE: "image"}.get(self.kind, "text")

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of an I scenario's images."""
        return self.params[0], self.params[1]

    @property
    def num_images(self) -> int:
        """Images per request: an I scenario's count, 0 for the others."""
        return self.params[2] if self.kind == IMAGE else 0

    def __str__(self) -> str:
        return self.text

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        """Draw (input_tokens, output_tokens) for one request; E and R give their tokens per input (one document and
        its query for R) and 0, I its text part's."""
        p = self.params
        if self.kind in _OWN_COUNTS:
            raise ValueError(f"the {self.kind} scenario has no token counts of its own; its requests give them")
        if self.kind == "D":
            return p[0], p[1]
        if self.kind in POOLING_KINDS:
            return sum(p), 0
        if self.kind == IMAGE:
            return IMAGE_TEXT_TOKENS, IMAGE_OUTPUT_TOKENS
        if self.kind == "N":
            return _normal(rng, p[0], p[1]), _normal(rng, p[2], p[3])
        lo_in, hi_in, lo_out, hi_out = self._uniform_bounds()
        return int(rng.integers(lo_in, hi_in + 1)), int(rng.integers(lo_out, hi_out + 1))

    @property
    def expected_tokens(self) -> tuple[float, float]:
        """Mean (input, output) tokens per request, for ETA and progress labels (unknown, 0, for a dataset or trace)."""
        p = self.params
        if self.kind in _OWN_COUNTS:
            return 0.0, 0.0
        if self.kind in POOLING_KINDS:
            return float(sum(p)), 0.0
        if self.kind == IMAGE:
            return float(IMAGE_TEXT_TOKENS + p[2] * image_tokens(p[0], p[1])), float(IMAGE_OUTPUT_TOKENS)
        if self.kind == "D":
            return float(p[0]), float(p[1])
        if self.kind == "N":
            return float(p[0]), float(p[2])
        lo_in, hi_in, lo_out, hi_out = self._uniform_bounds()
        return (lo_in + hi_in) / 2, (lo_out + hi_out) / 2

    def _uniform_bounds(self) -> tuple[int, int, int, int]:
        p = self.params
        if len(p) == 2:
            return 1, p[0], 1, p[1]
        return p[0], p[1], p[2], p[3]


TRACE_SCENARIO = Scenario(TRACE, ())


def prefix_tokens(scenario: Scenario, prefix_len: int | None, prefix_ratio: float | None) -> int | None:
    """The shared prefix's length in a run of `scenario`: --prefix-len, or --prefix-ratio of its mean input."""
    if prefix_len is not None:
        return prefix_len
    if prefix_ratio is not None:
        return max(1, round(prefix_ratio * scenario.expected_tokens[0]))
    return None


def shortest_likely_input(scenario: Scenario) -> int:
    """The fewest input tokens a scenario draws, but for a normal's far tail (mean - 2 sd)."""
    if scenario.kind in _OWN_COUNTS:
        return 0
    if scenario.kind == "N":
        return max(1, scenario.params[0] - 2 * scenario.params[1])
    if scenario.kind == "U":
        return scenario._uniform_bounds()[0]
    if scenario.kind == IMAGE:
        return IMAGE_TEXT_TOKENS
    return scenario.params[0]


def _normal(rng: np.random.Generator, mean: int, sd: int) -> int:
    # A token count below 1 is not a request, so the tail is clamped rather than redrawn.
    return max(1, int(round(rng.normal(mean, sd))))


def parse_scenario(text: str) -> Scenario:
    """Parse a traffic scenario string such as "D(100,100)" or "N(480,240)/(300,150)"."""
    if not isinstance(text, str) or not text:
        raise _error(text, "empty scenario")
    if text == DATASET:
        return Scenario(DATASET, ())
    if any(ch.isspace() for ch in text):
        raise _error(text, "spaces are not allowed")
    if _NEGATIVE.search(text):
        raise _error(text, "numbers must not be negative")
    for kind, pattern in _FORMS:
        match = pattern.fullmatch(text)
        if match:
            groups = [g for g in match.groups() if g is not None]  # I's count is optional
            # Checked on the digits first: int() refuses (ValueError) numbers of more than 4,300 digits.
            if any(len(g.lstrip("0")) > len(str(MAX_SCENARIO_TOKENS)) for g in groups):
                raise _error(text, _IMAGE_LIMITS if kind == IMAGE else _TOO_LARGE)
            params = tuple(int(g) for g in groups)
            if kind == IMAGE:
                return _image_scenario(text, params)
            _validate(text, kind, params)
            return Scenario(kind, params)
    raise _error(text)


def _image_scenario(text: str, params: tuple[int, ...]) -> Scenario:
    """I(width,height) or I(width,height,count) (one image by default), within the image limits."""
    width, height, count = (*params, 1) if len(params) == 2 else params
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE and 1 <= count <= MAX_IMAGES):
        raise _error(text, _IMAGE_LIMITS)
    return Scenario(IMAGE, (width, height, count))


def _validate(text: str, kind: str, params: tuple[int, ...]) -> None:
    # The grammar admits no minus sign, so only zeros, inverted ranges and lengths beyond any context are left.
    if any(v > MAX_SCENARIO_TOKENS for v in params):
        raise _error(text, _TOO_LARGE)
    if kind == "N":
        mean_in, _, mean_out, _ = params
        if mean_in < 1 or mean_out < 1:
            raise _error(text, "means must be positive")
        return
    if any(v < 1 for v in params):
        raise _error(text, "token counts must be positive")
    if kind == "U" and len(params) == 4:
        if params[0] > params[1] or params[2] > params[3]:
            raise _error(text, "min must not exceed max")
