"""What one benchmark request was and what happened to it: the record the client fills and metrics read."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

# Error codes that are not HTTP statuses; HTTP errors use the status code itself ("429", "500", ...).
ERROR_CONNECTION = "connection_error"
ERROR_TIMEOUT = "timeout"
ERROR_INCOMPLETE_STREAM = "incomplete_stream"
ERROR_MALFORMED_CHUNK = "malformed_chunk"
ERROR_EMPTY_RESPONSE = "empty_response"
ERROR_ABORTED = "aborted"


@dataclass(slots=True)
class RequestRecord:
    """One request's identity, its perf_counter timestamps and its outcome, as measured by the client."""

    scenario: str
    concurrency: int
    num_input_tokens: int
    max_output_tokens: int | None  # None: no max_tokens sent (the server's default length)
    start: float = 0.0
    first_token: float | None = None
    end: float = 0.0
    # Doubles in an array, not a list of float objects: a third of the memory per request (runs keep every record).
    chunk_times: array = field(default_factory=lambda: array("d"))
    num_output_tokens: int = 0
    tokens_estimated: bool = False
    status_code: int = 0
    error_code: str | None = None
    error_message: str | None = None
    scheduled_start: float | None = None
    first_answer: float | None = None  # the first answer (content) token, after any reasoning
    reasoning_tokens: int | None = None  # None when the stream carried no reasoning
    local_output_tokens: int | None = None  # a local count beside the server's usage, on a sample of requests
    session_id: str | None = None  # multi-turn runs: the conversation this request belongs to (unique in the run)
    turn: int | None = None  # multi-turn runs: 1-based position of the request in its conversation
    num_inputs: int = 1  # embeddings and rerank: the texts embedded or documents ranked by this one request
    num_images: int = 0  # image-text-to-text: images the request carried
    image_bytes: int = 0  # their encoded size (before base64)
    request_bytes: int = 0  # the request body's size: with images, the upload that dominates what is sent

    @property
    def ok(self) -> bool:
        """True when the request completed without an error."""
        return self.error_code is None

    def fail(self, code: str, message: str, end: float) -> None:
        """Mark the request failed; it keeps its real latency."""
        if self.error_code is None:
            self.error_code = code
            self.error_message = message[:500]
        if not self.end:
            self.end = end

    def shift(self, delta: float) -> None:
        """Move every perf_counter reading by `delta` (a remote worker's clock onto the master's); durations keep."""
        self.start += delta
        self.end += delta
        self.first_token = None if self.first_token is None else self.first_token + delta
        self.scheduled_start = None if self.scheduled_start is None else self.scheduled_start + delta
        self.first_answer = None if self.first_answer is None else self.first_answer + delta
        self.chunk_times = array("d", (t + delta for t in self.chunk_times))

    def to_dict(self, clock_offset: float = 0.0, scale: float = 1.0) -> dict:
        """Timestamps as unix seconds (perf_counter + clock_offset); latencies are added by metrics."""
        return {
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "start_time": self.start + clock_offset,
            "first_token_time": None if self.first_token is None else self.first_token + clock_offset,
            "end_time": self.end + clock_offset,
            "scheduled_start_time": None if self.scheduled_start is None else self.scheduled_start + clock_offset,
            "num_input_tokens": self.num_input_tokens,
            "num_output_tokens": self.num_output_tokens,
            "max_output_tokens": self.max_output_tokens,
            "tokens_estimated": self.tokens_estimated,
            "num_chunks": len(self.chunk_times),
            "status_code": self.status_code,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "reasoning_tokens": self.reasoning_tokens,
            "local_output_tokens": self.local_output_tokens,
            "session_id": self.session_id,
            "turn": self.turn,
            "num_inputs": self.num_inputs,
            "num_images": self.num_images,
            "image_bytes": self.image_bytes,
            "request_bytes": self.request_bytes,
        }

    def to_wire(self) -> list:
        """The record as a compact msgpack-friendly list, for a worker process to send to the master."""
        return [self.scenario, self.concurrency, self.num_input_tokens, self.max_output_tokens, self.start,
                self.first_token, self.end, array("d", self.chunk_times).tobytes(), self.num_output_tokens,
                self.tokens_estimated, self.status_code, self.error_code, self.error_message, self.scheduled_start,
                self.first_answer, self.reasoning_tokens, self.local_output_tokens, self.session_id, self.turn,
                self.num_inputs, self.num_images, self.image_bytes, self.request_bytes]

    @classmethod
    def from_wire(cls, data: list) -> RequestRecord:
        """Rebuild a record sent by to_wire (perf_counter readings are comparable across processes of one host)."""
        chunk_times = array("d")
        chunk_times.frombytes(data[7])
        return cls(data[0], data[1], data[2], data[3], data[4], data[5], data[6], chunk_times, *data[8:])
