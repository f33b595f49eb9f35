"""Embeddings and rerank requests: one JSON body of several inputs, one JSON answer, timed from send to last byte."""

from __future__ import annotations

from time import perf_counter

import orjson

from genai_bench.client import OpenAIStreamingClient, Target
from genai_bench.protocol import ERROR_EMPTY_RESPONSE, ERROR_MALFORMED_CHUNK, RequestRecord
from genai_bench.tokenizer import Tokenizer

EMBEDDINGS, RERANK = "embeddings", "rerank"
# A pooling request's inputs: the texts to embed, or {"query": str, "documents": [str, ...]} to rank.
PoolingInputs = list[str] | dict


def pooling_payload(kind: str, model: str, inputs: PoolingInputs, additional: dict) -> bytes:
    """The JSON body of an embeddings request (OpenAI) or a rerank request (vLLM, Jina, Cohere); extras win."""
    if kind == EMBEDDINGS:
        body: dict = {"model": model, "input": inputs, "encoding_format": "float"}
    else:
        body = {"model": model, "query": inputs["query"], "documents": inputs["documents"]}
    body.update(additional)
    return orjson.dumps(body)


def answer_problem(kind: str, answer: object, inputs: int) -> str | None:
    """Why `answer` is not a complete answer for `inputs` inputs, or None."""
    if not isinstance(answer, dict):
        return "the answer is not a JSON object"
    items = answer.get("data") if kind == EMBEDDINGS else answer.get("results")
    field = "data" if kind == EMBEDDINGS else "results"
    if not isinstance(items, list):
        return f"the answer has no {field} list"
    if len(items) != inputs:
        # A rerank server may return its top_n only: fewer results are its right when the request asked for them.
        return f"{len(items)} {field} entries for {inputs} inputs"
    return None


def reported_input_tokens(answer: dict) -> int | None:
    """The server's count of input tokens: usage.prompt_tokens, else usage.total_tokens (rerank servers), else
    Cohere's meta.billed_units.input_tokens; None when it gives none."""
    usage = answer.get("usage") or {}
    billed = (answer.get("meta") or {}).get("billed_units") or {}
    for value in (usage.get("prompt_tokens"), usage.get("total_tokens"), billed.get("input_tokens")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class PoolingClient(OpenAIStreamingClient):
    """Sends embeddings or rerank requests over one keep-alive connection: no stream, so the request ends when the
    answer's last byte arrives (kernel receive time) and no token timing applies."""

    def __init__(self, target: Target, tokenizer: Tokenizer, kind: str) -> None:
        super().__init__(target, tokenizer)
        self.kind = kind
        self.path = target.base_path + "/embeddings" if kind == EMBEDDINGS else target.root_path + target.rerank_endpoint
        self.headers = {**self.headers, "Accept": "application/json"}

    def send(self, record: RequestRecord, prompt: PoolingInputs) -> RequestRecord:
        """Send one request of `prompt`'s inputs, filling `record`; never raises for server faults."""
        inputs = len(prompt) if self.kind == EMBEDDINGS else len(prompt["documents"])
        record.num_inputs = inputs
        body = pooling_payload(self.kind, self.target.model, prompt, self.target.additional_params)
        self._post(record, body, self._read_answer, inputs)
        return record

    def _read_answer(self, response, record: RequestRecord, inputs: int) -> None:
        data = response.read()
        sock = self.pool.current if self.pool is not None else None
        # The last read brought the answer's last bytes: the request ends when the kernel received them.
        record.end = sock.received_at if sock is not None else perf_counter()
        try:
            answer = orjson.loads(data)
        except ValueError:
            record.fail(ERROR_MALFORMED_CHUNK, f"answer is not JSON: {data[:200]!r}", record.end)
            return
        problem = answer_problem(self.kind, answer, inputs)
        if problem:
            record.fail(ERROR_EMPTY_RESPONSE, problem, record.end)
            return
        reported = reported_input_tokens(answer)
        if reported is not None:
            record.num_input_tokens = reported
