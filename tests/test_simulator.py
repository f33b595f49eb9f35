"""The simulated OpenAI-compatible server, exercised over real HTTP on 127.0.0.1 with its raw SSE bytes parsed."""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import pytest

from genai_bench.simulator import SimulatorConfig, SimulatorServer
from genai_bench.tokenizer import builtin_tokenizer

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
FAST = {"ttft_ms": 1.0, "itl_ms": 0.2}


@dataclass
class Reply:
    """One HTTP exchange: status, headers, raw body, and for SSE the timed data events."""

    status: int
    headers: dict[str, str]
    body: bytes
    events: list[tuple[float, Any]] = field(default_factory=list)  # (seconds since send, parsed JSON or raw bytes)
    done: bool = False

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def chunks(self) -> list[dict]:
        return [e for _, e in self.events if isinstance(e, dict)]

    @property
    def malformed(self) -> list[bytes]:
        return [e for _, e in self.events if isinstance(e, bytes)]

    def token_chunks(self, key: str = "content") -> list[tuple[float, str]]:
        """(arrival, text) of each chunk that carries output text under `key`."""
        out = []
        for t, e in self.events:
            if isinstance(e, dict) and e["choices"]:
                choice = e["choices"][0]
                text = choice.get("delta", {}).get(key) if "delta" in choice else choice.get("text")
                if text:
                    out.append((t, text))
        return out

    @property
    def finish_reasons(self) -> list[str]:
        return [c["choices"][0]["finish_reason"] for c in self.chunks
                if c["choices"] and c["choices"][0]["finish_reason"] is not None]

    @property
    def usage(self) -> dict | None:
        found = [c["usage"] for c in self.chunks if c.get("usage")]
        return found[-1] if found else None


def request(server: SimulatorServer, path: str, body: Any = None, *, method: str = "POST",
            headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:
    """Send one request with http.client and read the answer line by line, timing each SSE event."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    start = time.perf_counter()
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, b"")
    lines = []
    try:
        while line := resp.readline():
            lines.append(line)
            if line.startswith(b"data: "):
                _record_event(reply, line[6:].strip(), time.perf_counter() - start)
    except http.client.IncompleteRead:
        pass  # a simulated disconnect: the chunked body ends without its terminator
    finally:
        conn.close()
    reply.body = b"".join(lines)
    return reply


def _record_event(reply: Reply, payload: bytes, at: float) -> None:
    if payload == b"[DONE]":
        reply.done = True
        return
    try:
        reply.events.append((at, json.loads(payload)))
    except ValueError:
        reply.events.append((at, payload))


def chat_body(max_tokens: int | None = 8, stream: bool = True, usage: bool = True, **extra: Any) -> dict:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "Tell me a story."}],
                            "stream": stream, **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return body


@pytest.fixture
def serve():
    """Start simulators on free loopback ports for one test and stop them afterwards."""
    servers = []

    def start(**config: Any) -> SimulatorServer:
        server = SimulatorServer(SimulatorConfig(**{**FAST, "seed": 1, **config})).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout=0.1)


def test_chat_stream_has_openai_chunk_format(serve):
    reply = request(serve(), CHAT, chat_body(max_tokens=5))
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.done and reply.body.rstrip().endswith(b"data: [DONE]")
    role, *rest = reply.chunks
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in reply.chunks)
    assert len({c["id"] for c in reply.chunks}) == 1
    assert len(reply.token_chunks()) == 5
    assert reply.finish_reasons == ["length"]
    last = reply.chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 5
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + 5


def test_timing_header_carries_the_arrival_time(serve):
    before = time.perf_counter()
    reply = request(serve(timing_header=True), CHAT, chat_body(max_tokens=2))
    assert reply.status == 200
    assert before <= float(reply.headers["x-simulator-arrival"]) <= time.perf_counter()
    assert "x-simulator-arrival" not in request(serve(), CHAT, chat_body(max_tokens=2)).headers


def test_role_chunk_can_be_turned_off(serve):
    reply = request(serve(role_chunk=False), CHAT, chat_body(max_tokens=3))
    first = reply.chunks[0]["choices"][0]["delta"]
    assert "role" not in first and first["content"].strip()


def test_completions_stream_has_text_chunks(serve):
    body = {"model": "m", "prompt": "Once upon a time", "max_tokens": 4, "stream": True,
            "stream_options": {"include_usage": True}}
    reply = request(serve(), COMPLETIONS, body)
    assert all(c["object"] == "text_completion" for c in reply.chunks)
    assert [bool(text.strip()) for _, text in reply.token_chunks()] == [True] * 4
    assert reply.finish_reasons == ["length"] and reply.done
    assert reply.usage["completion_tokens"] == 4


@pytest.mark.parametrize(("config", "body", "expected"), [
    ({}, chat_body(), True),
    ({"no_usage": True}, chat_body(), False),
    ({}, chat_body(usage=False), False),
])
def test_usage_chunk_follows_include_usage_unless_quirk(serve, config, body, expected):
    reply = request(serve(**config), CHAT, body)
    assert (reply.usage is not None) == expected
    assert reply.done and reply.finish_reasons == ["length"]


@pytest.mark.parametrize(("config", "extra", "expected"), [
    ({}, {"max_tokens": 7}, 7),
    ({}, {"max_tokens": 7, "max_completion_tokens": 11}, 11),
    ({"ignore_max_completion_tokens": True}, {"max_tokens": 7, "max_completion_tokens": 11}, 7),
    ({"default_max_tokens": 9}, {}, 9),
])
def test_output_length_follows_limits(serve, config, extra, expected):
    reply = request(serve(**config), CHAT, {**chat_body(max_tokens=None), **extra})
    assert len(reply.token_chunks()) == expected
    assert reply.usage["completion_tokens"] == expected


@pytest.mark.parametrize("tokens_per_chunk", [1, 3])
@pytest.mark.parametrize("path", [CHAT, COMPLETIONS])
def test_output_retokenizes_to_completion_tokens(serve, path, tokens_per_chunk):
    body = chat_body(max_tokens=301) if path == CHAT else {
        "prompt": "x", "max_tokens": 301, "stream": True, "stream_options": {"include_usage": True}}
    reply = request(serve(tokens_per_chunk=tokens_per_chunk, itl_ms=0), path, body)
    texts = [text for _, text in reply.token_chunks()]
    assert len(texts) == -(-301 // tokens_per_chunk)
    assert builtin_tokenizer().count("".join(texts)) == reply.usage["completion_tokens"] == 301


def test_non_streaming_answer_has_usage_and_exact_text(serve):
    reply = request(serve(), CHAT, chat_body(max_tokens=40, stream=False))
    body = reply.json()
    assert reply.headers["content-type"] == "application/json"
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "length"
    assert builtin_tokenizer().count(body["choices"][0]["message"]["content"]) == 40
    assert body["usage"]["completion_tokens"] == 40


def test_prompt_tokens_match_the_tokenizer(serve):
    tok, server = builtin_tokenizer(), serve()
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Why is the sky blue?"}]
    chat = request(server, CHAT, {"messages": messages, "max_tokens": 1, "stream": True,
                                  "stream_options": {"include_usage": True}})
    assert chat.usage["prompt_tokens"] == tok.count("You are terse.Why is the sky blue?")
    prompt = "It was the best of times, it was the worst of times"
    completion = request(server, COMPLETIONS, {"prompt": prompt, "max_tokens": 1}).json()
    assert completion["usage"]["prompt_tokens"] == tok.count(prompt) > 5


def test_first_token_waits_for_ttft_plus_prefill(serve):
    prompt_tokens = builtin_tokenizer().count("Tell me a story.")
    reply = request(serve(ttft_ms=60, prefill_ms_per_token=2, itl_ms=5), CHAT, chat_body(max_tokens=10))
    expected_ttft = (60 + 2 * prompt_tokens) / 1000
    tokens = reply.token_chunks()
    assert reply.events[0][0] < expected_ttft  # the role chunk comes at once and is not the first token
    assert expected_ttft <= tokens[0][0] < expected_ttft + 0.5
    assert tokens[-1][0] >= expected_ttft + 9 * 0.005  # the clock starts before the server's, so no slack


def test_requests_beyond_max_concurrency_queue_into_ttft(serve):
    server = serve(max_concurrency=1, ttft_ms=40, itl_ms=5)
    first_duration = (40 + 9 * 5) / 1000
    jobs = [gevent.spawn(request, server, CHAT, chat_body(max_tokens=10)) for _ in range(2)]
    gevent.joinall(jobs, raise_error=True)
    fast, slow = sorted((job.value for job in jobs), key=lambda r: r.token_chunks()[0][0])
    assert fast.token_chunks()[0][0] < first_duration
    assert slow.token_chunks()[0][0] >= first_duration + 0.040
    assert slow.token_chunks()[0][0] >= fast.token_chunks()[-1][0] - 0.002


def test_injected_errors_use_configured_codes_and_error_shape(serve):
    server = serve(error_rate=1.0, error_codes=(429, 503))
    replies = [request(server, CHAT, chat_body(stream=bool(i % 2))) for i in range(8)]
    assert {r.status for r in replies} <= {429, 503}
    for reply in replies:
        error = reply.json()["error"]
        assert error["code"] == reply.status and error["message"] and error["type"]


def test_disconnect_ends_stream_without_finish_or_done(serve):
    reply = request(serve(disconnect_rate=1.0), CHAT, chat_body(max_tokens=20))
    assert reply.status == 200
    assert not reply.done and reply.finish_reasons == [] and reply.usage is None
    assert 1 <= len(reply.token_chunks()) < 20


def test_malformed_chunk_is_not_json_but_stream_completes(serve):
    reply = request(serve(malformed_rate=1.0), CHAT, chat_body(max_tokens=20))
    assert len(reply.malformed) == 1
    assert reply.malformed[0].startswith(b"{")
    assert reply.done and reply.finish_reasons == ["length"]
    assert len(reply.token_chunks()) == 19


def test_cut_off_ends_cleanly_without_finish_reason(serve):
    reply = request(serve(cut_off_rate=1.0), CHAT, chat_body(max_tokens=20))
    assert reply.status == 200 and reply.done
    assert reply.finish_reasons == []
    received = len(reply.token_chunks())
    assert 1 <= received < 20 and reply.usage["completion_tokens"] == received


def test_stall_adds_a_mid_stream_gap(serve):
    reply = request(serve(stall_rate=1.0, stall_ms=300, itl_ms=1), CHAT, chat_body(max_tokens=10))
    times = [t for t, _ in reply.token_chunks()]
    assert times[0] < 0.3
    assert max(b - a for a, b in zip(times, times[1:])) >= 0.3


def test_slow_every_delays_the_first_token_of_every_nth_request_only(serve):
    server = serve(slow_every=3, slow_ms=150, ttft_ms=1.0)
    first_tokens = [request(server, CHAT, chat_body(max_tokens=3)).token_chunks()[0][0] for _ in range(6)]
    slow = [t >= 0.15 for t in first_tokens]
    assert slow == [False, False, True, False, False, True]
    assert max(t for t, is_slow in zip(first_tokens, slow) if not is_slow) < 0.1


@pytest.mark.parametrize(("config", "extra", "stops_early"), [
    ({"early_eos_rate": 1.0}, {}, True),
    ({"early_eos_rate": 1.0}, {"ignore_eos": True}, False),
    ({"early_eos_rate": 1.0}, {"min_tokens": 30}, False),
    ({"early_eos_rate": 1.0, "ignore_ignore_eos": True}, {"ignore_eos": True}, True),
])
def test_early_eos_unless_forced(serve, config, extra, stops_early):
    reply = request(serve(**config), CHAT, chat_body(max_tokens=30, **extra))
    count = len(reply.token_chunks())
    assert (count < 30) == stops_early
    assert reply.finish_reasons == (["stop"] if stops_early else ["length"])
    assert reply.usage["completion_tokens"] == count


def test_reasoning_tokens_come_in_reasoning_content(serve):
    reply = request(serve(reasoning_tokens=3), CHAT, chat_body(max_tokens=8))
    reasoning = [text for _, text in reply.token_chunks("reasoning_content")]
    content = [text for _, text in reply.token_chunks()]
    assert len(reasoning) == 3 and len(content) == 5
    assert builtin_tokenizer().count("".join(reasoning + content)) == reply.usage["completion_tokens"] == 8


def test_api_key_is_required_when_set(serve):
    server = serve(api_key="s3cret")
    assert request(server, CHAT, chat_body()).status == 401
    assert request(server, CHAT, chat_body(), headers={"Authorization": "Bearer wrong"}).status == 401
    assert request(server, CHAT, chat_body(), headers={"Authorization": "Bearer s3cret"}).status == 200
    assert request(server, "/v1/models", method="GET").json()["error"]["code"] == 401
    assert request(server, "/health", method="GET").status == 200


def test_models_lists_the_configured_model(serve):
    reply = request(serve(model="my-model"), "/v1/models", method="GET")
    assert [m["id"] for m in reply.json()["data"]] == ["my-model"]


@pytest.mark.parametrize(("path", "raw", "status"), [
    (CHAT, b"{not json", 400),
    (CHAT, b'{"max_tokens": 3}', 400),
    (COMPLETIONS, b'{"max_tokens": 3}', 400),
    (CHAT, b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 400),
    ("/v1/nope", b"{}", 404),
])
def test_bad_requests_get_openai_error_shape(serve, path, raw, status):
    reply = request(serve(), path, raw=raw)
    assert reply.status == status
    error = reply.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["code"] == status


def test_same_seed_gives_same_text(serve):
    texts = [request(serve(seed=7), CHAT, chat_body(max_tokens=20, stream=False)).json() for _ in range(2)]
    assert texts[0]["choices"] == texts[1]["choices"]


def test_config_validates_and_documents_every_field():
    assert all(f.metadata.get("help") for f in dataclasses.fields(SimulatorConfig))
    with pytest.raises(ValueError, match="error_rate"):
        SimulatorConfig(error_rate=1.5)
    with pytest.raises(ValueError, match="itl_ms"):
        SimulatorConfig(itl_ms=-1)


def test_tokens_are_timed_from_arrival_even_when_the_server_is_busy(start_simulator):
    """A burst of simultaneous requests is taken in turn; none of them may start its TTFT late because of that."""
    server = start_simulator(ttft_ms=150.0, itl_ms=1.0, timing_header=True, seed=1)
    gevent.sleep(0.1)  # when no socket had stamps on, the kernel turns them on in deferred work; let it run
    body = json.dumps({"model": "m", "stream": True, "max_tokens": 2,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    connection = socket.create_connection(("127.0.0.1", server.port))
    sent = time.perf_counter()
    connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    busy_until = sent + 0.08
    while time.perf_counter() < busy_until:  # the server's loop is busy: it cannot take the request for 80 ms
        pass
    answer = b""
    while b'"content":"' not in answer.replace(b'"content":""', b""):
        answer += connection.recv(65536)
    first = time.perf_counter()
    connection.close()
    headers = dict(re.findall(rb"(X-Simulator-\w+): ([\d.]+)", answer))
    assert float(headers[b"X-Simulator-Taken"]) - sent >= 0.075
    assert float(headers[b"X-Simulator-Arrival"]) - sent < 0.02
    assert 0.145 <= first - sent < 0.2  # TTFT from arrival, not 80 ms later


def test_precise_clock_wakes_every_stream_at_its_deadline_with_one_timer():
    """Hundreds of first tokens due at once: each stream wakes at its deadline, never before, and one greenlet spins."""
    from genai_bench.simulator.clock import PreciseClock

    clock = PreciseClock(spin=0.002)
    base = time.perf_counter() + 0.03
    deadlines = [base + i * 1e-5 for i in range(300)]
    woke: dict[int, float] = {}
    spinners = set()

    def stream(index: int) -> None:
        clock.sleep_until(deadlines[index])
        woke[index] = time.perf_counter()
        spinners.add(id(clock._timer))

    gevent.joinall([gevent.spawn(stream, i) for i in range(len(deadlines))], timeout=10)
    lateness = [woke[i] - deadlines[i] for i in range(len(deadlines))]
    assert min(lateness) >= 0.0
    assert len(spinners - {id(None)}) <= 1
    assert clock._timer is None and not clock._due  # nothing left waiting once everyone is woken


def test_idle_counter_counts_prompts_when_nothing_else_is_waiting():
    """Usage chunks need prompt counts; they are made in idle moments, not when the stream's last token is due."""
    from genai_bench.simulator.clock import IdleCounter
    from genai_bench.simulator.responses import Plan

    tokenizer = builtin_tokenizer()
    prompts = [f"prompt number {i} " * (i + 1) for i in range(20)]
    plans = [Plan(chat=True, model="m", stream=True, include_usage=True, prompt=p, count_tokens=tokenizer.count,
                  output_tokens=5, reasoning_tokens=0) for p in prompts]
    counter = IdleCounter()
    for plan in plans:
        counter.submit(plan)
    assert all(isinstance(plan.prompt, str) for plan in plans)  # nothing counted until the loop is idle
    gevent.sleep(0.2)
    assert [plan.prompt for plan in plans] == [tokenizer.count(p) for p in prompts]
    assert counter._worker is None  # the worker ends with the queue


def test_intake_makes_way_for_a_first_token_due_within_the_horizon():
    """A request's intake can wait (its delays count from arrival); a token due in a moment goes first."""
    from genai_bench.simulator.clock import INTAKE_HORIZON, PreciseClock

    clock = PreciseClock(spin=0.001)
    order = []

    def stream() -> None:
        clock.sleep_until(time.perf_counter() + INTAKE_HORIZON / 2)
        order.append("token")

    def intake() -> None:
        clock.make_way()
        order.append("intake")

    gevent.joinall([gevent.spawn(stream), gevent.spawn(intake), gevent.spawn(intake)], timeout=5)
    assert order == ["token", "intake", "intake"]
    started = time.perf_counter()
    clock.make_way()  # nothing due: no wait
    assert time.perf_counter() - started < INTAKE_HORIZON


@pytest.mark.parametrize("raw, status", [
    (b"GET /v1/models HTTP/1.1\nHost: t\n\n", b"200"),  # bare LF line ends are accepted
    (b"GET /v1/models HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\n\r\n", b"200"),
    (b"GET /v1/models HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n", b"400"),
    (b"GET /v1/models HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", b"400"),
    (b"GET /v1/models HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n", b"400"),
    # Both lengths at once is how requests are smuggled past proxies: refused, as llhttp does.
    (b"POST /v1/models HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
])
def test_request_heads_are_parsed_strictly_by_httptools(serve, raw, status):
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(raw)
        assert connection.recv(64).split(b" ")[1] == status



def test_chunked_request_bodies_are_read(serve):
    """A chunked request body (no Content-Length) is decoded by pywsgi from the heads httptools parsed."""
    server = serve()
    body = json.dumps(chat_body(max_tokens=3, stream=False)).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        answer = b""
        while b'"total_tokens"' not in answer:
            data = connection.recv(65536)
            assert data, answer
            answer += data
    assert answer.startswith(b"HTTP/1.1 200") and b'"completion_tokens": 3' in answer
