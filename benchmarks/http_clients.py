"""Which HTTP client should time streamed tokens: geventhttpclient (what genai-bench uses) or requests?

Both stream the same chat completions from the simulator (its own process, zero delays) with N greenlets, read the
SSE lines and stamp each with perf_counter, like the benchmark's client does. Printed: requests/s and the client's
CPU-seconds per 1000 requests (lower is better: CPU the client burns is time it is not measuring).

    python benchmarks/http_clients.py [--requests 2000] [--concurrency 32] [--output-tokens 100]
"""

from __future__ import annotations

import argparse
import json
import time

import genai_bench  # noqa: F401  (gevent patch first)
import gevent
import psutil

from common import start_simulator


def geventhttpclient_user(url: str, body: bytes, count: int) -> None:
    """Stream `count` requests over one keep-alive connection with geventhttpclient."""
    from geventhttpclient import HTTPClient

    client = HTTPClient.from_url(url, concurrency=1)
    for _ in range(count):
        response = client.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        stamps = []
        while line := response.readline(b"\n"):
            stamps.append(time.perf_counter())
            if line.startswith(b"data: [DONE]"):
                break
        response.release()
    client.close()


def requests_user(url: str, body: bytes, count: int) -> None:
    """Stream `count` requests over one keep-alive session with requests."""
    import requests

    session = requests.Session()
    for _ in range(count):
        with session.post(url + "/v1/chat/completions", data=body, stream=True,
                          headers={"Content-Type": "application/json"}) as response:
            stamps = []
            for line in response.iter_lines(chunk_size=None):  # each HTTP chunk as it arrives
                stamps.append(time.perf_counter())
                if line.startswith(b"data: [DONE]"):
                    break
    session.close()


def run(user, url: str, body: bytes, requests: int, concurrency: int) -> tuple[float, float]:
    """Requests/s and client CPU-seconds per 1000 requests."""
    me = psutil.Process()
    cpu0, wall0 = me.cpu_times(), time.perf_counter()
    gevent.joinall([gevent.spawn(user, url, body, requests // concurrency) for _ in range(concurrency)],
                   raise_error=True)
    cpu1, wall = me.cpu_times(), time.perf_counter() - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    done = requests // concurrency * concurrency
    return done / wall, cpu / done * 1000


def main() -> None:
    """Interleave the two clients twice and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=100)
    args = parser.parse_args()
    body = json.dumps({"model": "m", "stream": True, "max_tokens": args.output_tokens,
                       "messages": [{"role": "user", "content": "hello " * 100}]}).encode()
    simulator, url = start_simulator("--ttft-ms", "0", "--itl-ms", "0", "--spin-ms", "0")
    results: dict[str, list[tuple[float, float]]] = {"geventhttpclient": [], "requests": []}
    try:
        for _ in range(2):  # interleaved A/B rounds
            for name, user in (("geventhttpclient", geventhttpclient_user), ("requests", requests_user)):
                results[name].append(run(user, url, body, args.requests, args.concurrency))
    finally:
        simulator.terminate()
    print(f"{args.requests} streamed requests x {args.output_tokens} tokens, concurrency {args.concurrency}")
    print(f"{'client':>18}  {'req/s':>8}  {'CPU-s per 1000 req':>18}")
    for name, rounds in results.items():
        rps = sum(r for r, _ in rounds) / len(rounds)
        cpu = sum(c for _, c in rounds) / len(rounds)
        print(f"{name:>18}  {rps:8.1f}  {cpu:18.3f}")


if __name__ == "__main__":
    main()
