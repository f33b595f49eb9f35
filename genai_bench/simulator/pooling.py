"""The simulator's embeddings and rerank endpoints: count the inputs' tokens, wait a base plus a time per token, and
answer one well-formed JSON body (OpenAI embeddings; vLLM/Jina/Cohere rerank)."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import orjson

from genai_bench.simulator.config import SimulatorConfig
from genai_bench.simulator.responses import ApiError
from genai_bench.tokenizer import Tokenizer

EMBEDDINGS_PATHS = frozenset({"/v1/embeddings", "/embeddings"})
RERANK_PATHS = frozenset({"/rerank", "/v1/rerank", "/v2/rerank"})
POOLING_PATHS = EMBEDDINGS_PATHS | RERANK_PATHS
# Distinct vectors kept ready: answers reuse them, so a large batch costs no random draws per request.
_VECTORS = 64


@dataclass(frozen=True)
class PoolingAnswer:
    """What one embeddings or rerank request costs (input tokens) and the body to answer it with."""

    tokens: int
    body: bytes


class PoolingEndpoints:
    """Builds the answers of the embeddings and rerank endpoints; the app times and sends them."""

    def __init__(self, config: SimulatorConfig, tokenizer: Tokenizer, rng: random.Random) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.rng = rng
        self.vectors = [self._unit_vector(config.embedding_dim) for _ in range(_VECTORS)]

    def delay(self, tokens: int) -> float:
        """Seconds from arrival to the answer: the base plus the per-token time of every input token."""
        return (self.config.embedding_base_ms + self.config.embedding_ms_per_token * tokens) / 1000.0

    def answer(self, path: str, body: dict) -> PoolingAnswer:
        """The answer to a request of `path` (one of POOLING_PATHS); a 400 for a malformed body."""
        if path in EMBEDDINGS_PATHS:
            return self._embeddings(body)
        return self._rerank(body)

    def _count(self, texts: list) -> list[int]:
        """Tokens of each input: a text's count under the simulator's tokenizer, a token-id list's length."""
        if all(isinstance(t, str) for t in texts):
            return self.tokenizer.count_batch(texts)
        if all(isinstance(t, list) and all(isinstance(i, int) for i in t) for t in texts):
            return [len(t) for t in texts]
        raise ApiError(400, "inputs must be strings or lists of token ids")

    def _embeddings(self, body: dict) -> PoolingAnswer:
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and all(isinstance(i, int) for i in inputs)):
            inputs = [inputs]  # one text, or one input as token ids
        if not isinstance(inputs, list) or not inputs:
            raise ApiError(400, "input must be a string or a non-empty list of strings")
        tokens = sum(self._count(inputs))
        data = [{"object": "embedding", "index": i, "embedding": self.vectors[i % _VECTORS]}
                for i in range(len(inputs))]
        return PoolingAnswer(tokens, orjson.dumps({
            "object": "list", "data": data, "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))

    def _rerank(self, body: dict) -> PoolingAnswer:
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str):
            raise ApiError(400, "query must be a string")
        if not isinstance(documents, list) or not documents:
            raise ApiError(400, "documents must be a non-empty list")
        # Cohere and Jina accept {"text": ...} documents beside plain strings.
        texts = [d.get("text") if isinstance(d, dict) else d for d in documents]
        counts = self._count(texts)
        # A cross-encoder reads the query with every document.
        tokens = sum(counts) + self.tokenizer.count(query) * len(texts)
        top_n = body.get("top_n")
        results = sorted(({"index": i, "relevance_score": self.rng.random()} for i in range(len(texts))),
                         key=lambda r: r["relevance_score"], reverse=True)
        if isinstance(top_n, int) and not isinstance(top_n, bool) and top_n > 0:
            results = results[:top_n]
        return PoolingAnswer(tokens, orjson.dumps({
            "id": f"rerank-{time.monotonic_ns()}", "model": body.get("model"), "results": results,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))

    def _unit_vector(self, dim: int) -> list[float]:
        values = [self.rng.gauss(0.0, 1.0) for _ in range(dim)]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]
