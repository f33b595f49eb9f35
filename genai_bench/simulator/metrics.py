"""The simulator's /metrics: its own state in vLLM's Prometheus names, so the server panel works with no server.

Honest values from what this process is doing: requests streaming (running), requests queued beyond
--max-concurrency (waiting), the tokens running requests hold (prompt + generated so far) over --kv-cache-tokens,
and counters of generated and prompt tokens and finished requests. With `simulate --workers N` each process serves
its own state: a scrape reaches one of them, as a connection does.
"""

from __future__ import annotations

from collections import Counter

from genai_bench.simulator.responses import Plan

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Started requests whose prompts the counter has not taken yet are counted at the next scrape (tokenizing them as
# they arrive would delay their first token); past this many, without scrapes, they are counted at once.
_UNCOUNTED_LIMIT = 4096


class Sequence:
    """One request being answered: its plan and the tokens generated for it so far."""

    __slots__ = ("plan", "generated")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.generated = 0


class ServerState:
    """What the simulated server is doing, updated in O(1) per request and chunk, rendered on each scrape."""

    def __init__(self, model: str, kv_cache_tokens: int) -> None:
        self.model = model
        self.kv_cache_tokens = kv_cache_tokens
        self.running: set[Sequence] = set()
        self.waiting = 0
        self.generation_tokens = 0
        self.prompt_tokens = 0
        self.finished: Counter[str] = Counter()  # by finish reason: length, stop, abort
        self._uncounted: list[Sequence] = []

    def start(self, plan: Plan) -> Sequence:
        """A request got its slot and starts being generated."""
        sequence = Sequence(plan)
        self.running.add(sequence)
        self._uncounted.append(sequence)
        if len(self._uncounted) > _UNCOUNTED_LIMIT:
            self._count_prompts()
        return sequence

    def generate(self, sequence: Sequence, tokens: int) -> None:
        """`tokens` more output tokens were generated for `sequence`."""
        sequence.generated += tokens
        self.generation_tokens += tokens

    def finish(self, sequence: Sequence, reason: str | None) -> None:
        """The request left (answered, stopped or its client gone): its tokens leave the KV cache."""
        self.running.discard(sequence)
        self.finished[reason or "abort"] += 1

    def _count_prompts(self) -> None:
        for sequence in self._uncounted:
            self.prompt_tokens += sequence.plan.prompt_tokens
        self._uncounted.clear()

    def render(self) -> bytes:
        """The exposition text, in vLLM's names and units (KV usage 0-1, counters ending in _total)."""
        self._count_prompts()
        held = sum(s.plan.prompt_tokens + s.generated for s in self.running)
        model = self.model.replace("\\", "\\\\").replace('"', '\\"')
        label = '{model_name="' + model + '"}'
        lines = [
            ("vllm:num_requests_running", "gauge", "Requests being generated.", len(self.running)),
            ("vllm:num_requests_waiting", "gauge", "Requests queued beyond max_concurrency.", self.waiting),
            ("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage: tokens held over kv_cache_tokens (1 means 100 "
             "percent).", min(held / self.kv_cache_tokens, 1.0)),
            ("vllm:generation_tokens_total", "counter", "Generated tokens.", self.generation_tokens),
            ("vllm:prompt_tokens_total", "counter", "Prompt tokens taken by started requests.", self.prompt_tokens),
        ]
        out = []
        for name, kind, text, value in lines:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{label} {float(value)!r}"]
        out += ["# HELP vllm:request_success_total Finished requests by finish reason.",
                "# TYPE vllm:request_success_total counter"]
        out += [f'vllm:request_success_total{{finished_reason="{reason}",model_name="{model}"}} {float(n)!r}'
                for reason, n in sorted(self.finished.items())]
        return ("\n".join(out) + "\n").encode()
