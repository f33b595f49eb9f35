"""One run's view of the server: its scrapes as a time series, their summary, and the generated-token cross-check."""

from __future__ import annotations

from dataclasses import dataclass, field

from genai_bench.metrics import TOKEN_COUNT_TOLERANCE
from genai_bench.servermetrics.vocabulary import GENERATION_TOKENS, SERIES

# Why a server's token count and the client's may differ, for the log line that flags it.
MISMATCH_HINT = ("lost requests (timeouts, disconnects), a miscounting server or client tokenizer, or another client "
                 "sharing the server")


@dataclass(frozen=True)
class ServerSample:
    """One scrape of every source: normalized values combined over sources, and each source's own."""

    t: float  # unix s
    sources: tuple[dict, ...]  # per source: url, engine, ok, values, raw
    values: dict[str, float | None]  # by normalized series, combined over sources (vocabulary.COMBINE)
    raw: dict[str, float]  # --server-metrics-include matches, summed over label sets and sources
    totals: dict[str, float]  # counter totals by series, summed over sources (for deltas over a run)


@dataclass
class RunServerMetrics:
    """The scrapes taken while one run lasted (its first is the baseline taken as it starts, its last at its end)."""

    start_time: float  # unix s
    samples: list[ServerSample] = field(default_factory=list)

    def add(self, sample: ServerSample) -> None:
        """Keep one scrape."""
        self.samples.append(sample)

    def series(self) -> dict:
        """The run file's `server_metrics`: {"start_time", "t": [s since the run started], series: [...]}, raw too."""
        out: dict = {"start_time": self.start_time, "t": [round(s.t - self.start_time, 3) for s in self.samples]}
        for name in SERIES:
            values = [s.values.get(name) for s in self.samples]
            if any(v is not None for v in values):
                out[name] = values
        raw_names = sorted({name for s in self.samples for name in s.raw})
        if raw_names:
            out["raw"] = {name: [s.raw.get(name) for s in self.samples] for name in raw_names}
        return out

    def generated_tokens(self) -> float | None:
        """The server's generated-token counter's increase over the run (None without two readings of it)."""
        readings = [s.totals[GENERATION_TOKENS] for s in self.samples if GENERATION_TOKENS in s.totals]
        if len(readings) < 2 or readings[-1] < readings[0]:
            return None
        return readings[-1] - readings[0]

    def summary(self, client_output_tokens: int) -> dict:
        """RunStatistics.server: means and peaks of the queue, KV usage and token rate, and the token cross-check."""
        def values(name: str) -> list[float]:
            return [v for s in self.samples if (v := s.values.get(name)) is not None]

        def mean(name: str) -> float | None:
            found = values(name)
            return sum(found) / len(found) if found else None

        def peak(name: str) -> float | None:
            return max(values(name), default=None)

        generated = self.generated_tokens()
        difference = None
        if generated is not None and client_output_tokens:
            difference = (generated - client_output_tokens) / client_output_tokens
        return {
            "samples": len(self.samples),
            "sources": sorted({source["url"] for s in self.samples for source in s.sources}),
            "running_mean": mean("running"), "running_max": peak("running"), "waiting_max": peak("waiting"),
            "kv_cache_usage_max": peak("kv_cache_usage"),
            "generation_tokens_per_second_mean": mean("generation_tokens_per_second"),
            "generated_tokens": generated, "client_output_tokens": client_output_tokens,
            "token_difference": difference,
        }


def token_mismatch(summary: dict | None) -> bool:
    """True when the server generated more than 5% more or fewer tokens than the client counted."""
    difference = (summary or {}).get("token_difference")
    return difference is not None and abs(difference) > TOKEN_COUNT_TOLERANCE


def mismatch_message(label: str, summary: dict) -> str:
    """The log line of a run whose server and client token counts disagree."""
    return (f"{label}: the server generated {summary['generated_tokens']:,.0f} tokens but the client counted "
            f"{summary['client_output_tokens']:,} ({summary['token_difference']:+.1%}); look for {MISMATCH_HINT}")
