"""The simulated server's settings: timing, capacity, fault injection and quirks, checked when built."""

import math
from dataclasses import dataclass, field, fields
from typing import Any


def _opt(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass
class SimulatorConfig:
    """Timing, capacity, fault-injection and quirk settings of the simulated server."""

    model: str = _opt("genai-bench-sim", "Model name listed by /v1/models (requests may name any model).")
    ttft_ms: float = _opt(20.0, "Fixed time to first token, in ms.")
    prefill_ms_per_token: float = _opt(0.0, "Extra time to first token per prompt token, in ms.")
    image_ms: float = _opt(0.0, "Extra time to first token per image in a chat request, in ms (its vision encoding; "
                                "the image's tokens also count as prompt tokens).")
    itl_ms: float = _opt(10.0, "Inter-token latency in ms (chunks of k tokens are k*itl_ms apart).")
    jitter_ms: float = _opt(0.0, "Uniform +/- jitter added to every delay, in ms.")
    tokens_per_chunk: int = _opt(1, "Output tokens carried by each streamed chunk.")
    max_concurrency: int = _opt(0, "Max concurrent sequences (0 = unlimited); more requests queue and wait.")
    # /metrics (simulator/metrics.py): the KV cache is the tokens running requests hold, over this capacity.
    kv_cache_tokens: int = _opt(65536, "KV cache capacity in tokens that /metrics reports usage against.")
    default_max_tokens: int = _opt(128, "Output length when the request sets no max_tokens.")
    error_rate: float = _opt(0.0, "Share of requests answered with an error status before streaming.")
    error_codes: tuple[int, ...] = _opt((429, 500, 503), "HTTP status codes used for injected errors.")
    stall_rate: float = _opt(0.0, "Share of requests that stall once mid-stream.")
    stall_ms: float = _opt(1000.0, "Length of a mid-stream stall, in ms.")
    disconnect_rate: float = _opt(0.0, "Share of streams whose connection is closed mid-stream.")
    malformed_rate: float = _opt(0.0, "Share of streams with one chunk that is not valid JSON.")
    no_usage: bool = _opt(False, "Quirk: ignore stream_options.include_usage (never send a usage chunk).")
    ignore_max_completion_tokens: bool = _opt(False, "Quirk: ignore max_completion_tokens, honour only max_tokens.")
    ignore_ignore_eos: bool = _opt(False, "Quirk: ignore ignore_eos and min_tokens (early EOS can then happen).")
    early_eos_rate: float = _opt(0.0, "Share of unforced requests that stop early with finish_reason 'stop'.")
    role_chunk: bool = _opt(True, "Send a role-only first chat chunk that carries no token.")
    cut_off_rate: float = _opt(0.0, "Quirk: share of streams ended cleanly with [DONE] but no finish_reason.")
    reasoning_tokens: int = _opt(0, "Quirk: the first N chat output tokens come in delta.reasoning_content "
                                    "(usage then has completion_tokens_details.reasoning_tokens).")
    slow_every: int = _opt(0, "Make every Nth completion request slow (0 = none): deterministic, unlike the rates.")
    slow_ms: float = _opt(0.0, "Extra time to first token of each slow_every-th request, in ms.")
    usage_scale: float = _opt(1.0, "Quirk: usage reports completion_tokens times this (a server that miscounts).")
    api_key: str = _opt("", "When set, require 'Authorization: Bearer <key>' (401 otherwise).")
    timing_header: bool = _opt(False, "Add X-Simulator-Arrival (perf_counter when the request reached this machine, "
                                      "which its delays count from) and X-Simulator-Taken (when this server got to "
                                      "it) to streamed responses; perf_counter is comparable across processes on one "
                                      "Linux machine, so a benchmark can split its timing error by cause.")
    seed: int | None = _opt(None, "Seed of the random generator behind output text, jitter and faults.")
    spin_ms: float = _opt(1.0, "Last stretch before the first and last token spent yielding instead of "
                               "timer-sleeping, for sub-ms TTFT/E2E (0 = no busy-yield, ~0.5 ms late).")
    # Embeddings and rerank (simulator/pooling.py): one answer after a fixed base plus a time per input token.
    embedding_base_ms: float = _opt(2.0, "Embeddings and rerank: fixed latency of every request, in ms.")
    embedding_ms_per_token: float = _opt(0.01, "Embeddings and rerank: extra latency per input token "
                                                "(all inputs, and a rerank's query once per document), in ms.")
    embedding_dim: int = _opt(16, "Embeddings: the length of each returned vector.")

    def __post_init__(self) -> None:
        self.error_codes = tuple(int(c) for c in self.error_codes)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value}")
            if f.name.endswith("_ms") and not (0 <= value < math.inf):
                raise ValueError(f"{f.name} must be >= 0 and finite, got {value}")
        if not 0 <= self.embedding_ms_per_token < math.inf or not 1 <= self.embedding_dim <= 65536:
            raise ValueError("embedding_ms_per_token must be >= 0 and finite, and embedding_dim from 1 to 65536")
        if not 0 < self.usage_scale < math.inf:
            raise ValueError(f"usage_scale must be positive and finite, got {self.usage_scale}")
        if self.tokens_per_chunk < 1 or self.default_max_tokens < 1:
            raise ValueError("tokens_per_chunk and default_max_tokens must be >= 1")
        if self.kv_cache_tokens < 1:
            raise ValueError(f"kv_cache_tokens must be >= 1, got {self.kv_cache_tokens}")
        if self.max_concurrency < 0 or self.reasoning_tokens < 0 or self.slow_every < 0:
            raise ValueError("max_concurrency, reasoning_tokens and slow_every must be >= 0")
        if not self.error_codes or not all(400 <= c <= 599 for c in self.error_codes):
            raise ValueError(f"error_codes must be HTTP error statuses (400-599), got {self.error_codes}")
