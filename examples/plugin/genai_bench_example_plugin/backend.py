"""A `genai_bench.backends` plugin: `--task example-json` benchmarks a non-OpenAI JSON API (server.py speaks it).

The API: POST /generate with {"input": text, "parameters": {"max_new_tokens": n}} answers a stream of JSON lines,
{"token": {"text": "..."}} per token, then {"done": true, "generated_tokens": n, "input_tokens": m}; an error is a
non-200 status with {"message": "..."}. The client fills genai-bench's RequestRecord the way the built-in ones do.
"""

from __future__ import annotations

import json
from time import perf_counter

import gevent

from genai_bench.client import Target
from genai_bench.protocol import (ERROR_CONNECTION, ERROR_EMPTY_RESPONSE, ERROR_INCOMPLETE_STREAM,
                                  ERROR_MALFORMED_CHUNK, ERROR_TIMEOUT, RequestRecord)
from genai_bench.tasks import TaskSpec
from genai_bench.tokenizer import Tokenizer

GENERATE_PATH = "/generate"
MAX_ERROR_BODY = 2000


def prompt_text(prompt) -> str:
    """The text to send: a plain prompt, or a chat history's message contents one per line."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(message.get("content", "")) for message in prompt)


class JsonLinesClient:
    """One user's keep-alive connection to the JSON API: send() times a request from its send to its last line."""

    def __init__(self, target: Target, tokenizer: Tokenizer) -> None:
        self.target = target
        self.tokenizer = tokenizer
        self.http = target.new_http_client()
        self.path = target.root_path + GENERATE_PATH
        self.headers = {"Content-Type": "application/json", **target.headers()}
        self.answer: list[str] = []

    def connect(self) -> None:
        """Nothing to open ahead: the first request connects (genai-bench calls this once per user)."""

    def close(self) -> None:
        """Close the connection."""
        self.http.close()

    def last_answer(self) -> str:
        """The last answer's text (multi-turn runs send it back)."""
        return "".join(self.answer)

    def send(self, record: RequestRecord, prompt) -> RequestRecord:
        """Send one request, filling `record`; server faults become the record's error, never an exception."""
        parameters = {"max_new_tokens": record.max_output_tokens} if record.max_output_tokens else {}
        body = json.dumps({"input": prompt_text(prompt), "parameters": parameters}).encode()
        record.request_bytes = len(body)
        self.answer = []
        response = None
        record.start = perf_counter()
        try:
            with gevent.Timeout(self.target.request_timeout):
                response = self.http.request("POST", self.path, body=body, headers=self.headers)
                record.status_code = response.status_code
                if response.status_code != 200:
                    record.fail(str(response.status_code), response.read(MAX_ERROR_BODY).decode("utf-8", "replace"),
                                perf_counter())
                    return record
                self._read_lines(response, record)
        except gevent.Timeout:
            record.fail(ERROR_TIMEOUT, f"no complete answer within {self.target.request_timeout:g} s", perf_counter())
        except Exception as exc:  # refused connections, resets, parse errors: the server's fault here
            code = ERROR_INCOMPLETE_STREAM if record.status_code == 200 else ERROR_CONNECTION
            record.fail(code, f"{type(exc).__name__}: {exc}", perf_counter())
        finally:
            if response is not None:
                response.release()
        return record

    def _read_lines(self, response, record: RequestRecord) -> None:
        while True:
            line = response.readline(b"\n")
            now = perf_counter()
            if not line:
                record.fail(ERROR_INCOMPLETE_STREAM, "the stream ended without its done line", now)
                return
            try:
                message = json.loads(line)
            except ValueError:
                record.fail(ERROR_MALFORMED_CHUNK, f"line is not JSON: {line[:200]!r}", now)
                return
            if "token" in message:
                record.first_token = record.first_token or now
                record.first_answer = record.first_answer or now
                record.chunk_times.append(now)
                self.answer.append(str(message["token"].get("text", "")))
            elif message.get("done"):
                record.end = now
                if record.first_token is None:
                    record.fail(ERROR_EMPTY_RESPONSE, "the answer had no token", now)
                    return
                record.num_output_tokens = int(message.get("generated_tokens", len(record.chunk_times)))
                if message.get("input_tokens") is not None:
                    record.num_input_tokens = int(message["input_tokens"])
                return


# Text scenarios (D, N, U, datasets), one prompt per request, streamed: TTFT, TPOT and ITL apply.
TASK = TaskSpec(name="example-json", scenario_kinds=("D", "N", "U", "dataset"), scenario_forms="D, N, U or dataset",
                default_scenario="D(100,100)", batched=False, new_client=JsonLinesClient)
