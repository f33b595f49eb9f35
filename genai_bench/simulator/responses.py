"""What a simulated request gets back, decided and shaped: its plan, its SSE frames, OpenAI-style error bodies."""

import http
import json
import random
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

from genai_bench.tokenizer import Tokenizer

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}
DONE = b"data: [DONE]\n\n"


class ApiError(Exception):
    """A request answered with an OpenAI-style error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> bytes:
    """The JSON body of an OpenAI-style error answer."""
    error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": status}}).encode()


def status_line(status: int) -> str:
    """The WSGI status line of `status`, e.g. "429 Too Many Requests"."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def single_token_words(tokenizer: Tokenizer) -> list[str]:
    """Alphabetic words that are one token with a leading space, so that output text re-tokenizes exactly."""
    candidates = []
    for token_id in range(tokenizer.vocab_size):
        piece = tokenizer.id_to_token(token_id) or ""
        # "Ġ" is byte-level BPE's leading space, "▁" SentencePiece's.
        if piece[:1] in ("Ġ", "▁") and piece[1:].isascii() and piece[1:].isalpha():
            candidates.append(" " + piece[1:])
        elif piece.isascii() and piece.isalpha():
            # Whitespace-split vocabularies (WordPiece, WordLevel) mark no leading space at all.
            candidates.append(" " + piece)
    candidates = list(dict.fromkeys(candidates))
    words = [w for w, ids in zip(candidates, tokenizer.encode_batch(candidates)) if len(ids) == 1]
    if not words:
        raise ValueError(f"tokenizer {tokenizer.name!r} has no single-token words with a leading space")
    if tokenizer.count("".join(words)) != len(words):
        warnings.warn(f"tokenizer {tokenizer.name!r} merges adjacent words; simulated token counts may differ")
    return words


@dataclass(slots=True)
class Plan:
    """Everything decided about one request before it is answered."""

    chat: bool
    model: str
    stream: bool
    include_usage: bool
    prompt: str | int  # the prompt text until counted, then its token count
    count_tokens: Callable[[str], int]
    output_tokens: int
    reasoning_tokens: int
    finish_reason: str | None = "length"
    stall_at: int = -1
    disconnect_after: int = -1
    malformed_at: int = -1
    extra_ttft: float = 0.0  # seconds added to the first token (slow_every)
    usage_scale: float = 1.0
    transcript: dict | None = None  # when the app keeps chats: this request's messages, and the answer once sent
    images: int = 0  # image parts in a chat request
    image_tokens: int = 0  # their prompt tokens (images.image_tokens of each decoded size)

    @property
    def reported_output_tokens(self) -> int:
        """The output count the usage says (a miscounting server's scale applied)."""
        return round(self.output_tokens * self.usage_scale)

    @property
    def prompt_tokens(self) -> int:
        """Counted on first use (or earlier by an IdleCounter), so tokenizing stays off the TTFT path."""
        if isinstance(self.prompt, str):
            self.prompt = self.count_tokens(self.prompt)
        return self.prompt + self.image_tokens



class Frames:
    """Byte templates of one response's SSE frames, built once so that each chunk costs two concatenations."""

    __slots__ = ("chat", "head", "content_pre", "reasoning_pre", "post")

    def __init__(self, chat: bool, rid: str, created: int, model: str) -> None:
        self.chat = chat
        kind = "chat.completion.chunk" if chat else "text_completion"
        self.head = (f'data: {{"id":"{rid}","object":"{kind}","created":{created},'
                     f'"model":{json.dumps(model)},"choices":[').encode()
        if chat:
            self.content_pre = self.head + b'{"index":0,"delta":{"content":"'
            self.reasoning_pre = self.head + b'{"index":0,"delta":{"reasoning_content":"'
            self.post = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
        else:
            self.content_pre = self.reasoning_pre = self.head + b'{"index":0,"text":"'
            self.post = b'","logprobs":null,"finish_reason":null}]}\n\n'

    def chunk(self, text: bytes, reasoning: bool) -> bytes:
        """One content (or reasoning) chunk; the text is ASCII letters and spaces, so it needs no escaping."""
        return (self.reasoning_pre if reasoning else self.content_pre) + text + self.post

    def role(self) -> bytes:
        """The role-only first chat chunk (carries no token)."""
        return self.head + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,' \
                           b'"finish_reason":null}]}\n\n'

    def finish(self, reason: str) -> bytes:
        """The empty chunk carrying finish_reason."""
        body = b'"delta":{}' if self.chat else b'"text":""'
        return self.head + b'{"index":0,' + body + b',"logprobs":null,"finish_reason":"' + reason.encode() \
            + b'"}]}\n\n'

    def usage(self, prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0) -> bytes:
        """The usage chunk with empty choices (with completion_tokens_details when the answer reasoned)."""
        return self.head + b"]," + _usage_json(prompt_tokens, completion_tokens, reasoning_tokens) + b"}\n\n"

    def malformed(self, text: bytes, reasoning: bool) -> bytes:
        """A chunk cut in half, so that it is not valid JSON."""
        frame = self.chunk(text, reasoning)
        return frame[: len(frame) // 2] + b"\n\n"


def _usage_json(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0) -> bytes:
    details = b',"completion_tokens_details":{"reasoning_tokens":%d}' % reasoning_tokens if reasoning_tokens else b""
    return (b'"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d%s}'
            % (prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, details))


def chunk_spans(plan: Plan, per_chunk: int) -> Iterator[tuple[int, int, bool]]:
    """(first token, end token, is reasoning) of each chunk, in order; a chunk never mixes reasoning and content."""
    for lo, hi, reasoning in ((0, plan.reasoning_tokens, True), (plan.reasoning_tokens, plan.output_tokens, False)):
        for first in range(lo, hi, per_chunk):
            yield first, min(first + per_chunk, hi), reasoning


def chunk_count(plan: Plan, per_chunk: int) -> int:
    """How many token-carrying chunks `plan`'s stream has."""
    reasoning, content = plan.reasoning_tokens, plan.output_tokens - plan.reasoning_tokens
    return -(-reasoning // per_chunk) - (-content // per_chunk)


def mid_chunk(rng: random.Random, n_chunks: int) -> int:
    """A chunk index strictly inside the stream (after the first, before the last) when there is room."""
    return rng.randint(1, n_chunks - 1) if n_chunks > 1 else n_chunks
