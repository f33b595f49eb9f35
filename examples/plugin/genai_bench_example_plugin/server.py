"""The JSON API the example backend speaks, as a small gevent server: `python -m genai_bench_example_plugin.server`.

POST /generate streams one JSON line per token after --ttft seconds, a token every --itl seconds, then a done line
with the counts; the input is counted in whitespace-separated words. GET / says what it is (a reachability check).
"""

from __future__ import annotations

import argparse
import json
import socket

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer

DEFAULT_TOKENS = 16


class NoDelayHandler(WSGIHandler):
    """Sends each token line at once: without TCP_NODELAY, Nagle's algorithm holds small writes back ~40 ms."""

    def handle(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle()


def generate(body: dict, ttft: float, itl: float):
    """The NDJSON lines answering one /generate request."""
    tokens = int((body.get("parameters") or {}).get("max_new_tokens") or DEFAULT_TOKENS)
    words = len(str(body.get("input", "")).split())
    gevent.sleep(ttft)
    for index in range(tokens):
        if index:
            gevent.sleep(itl)
        yield json.dumps({"token": {"id": index, "text": f" tok{index}"}}).encode() + b"\n"
    yield json.dumps({"done": True, "generated_tokens": tokens, "input_tokens": words}).encode() + b"\n"


def application(ttft: float, itl: float):
    """The WSGI app of the API."""

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if path == "/generate" and method == "POST":
            try:
                size = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(size) or b"{}")
            except ValueError:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"message": "the body is not JSON"}']
            start_response("200 OK", [("Content-Type", "application/x-ndjson")])
            return generate(body, ttft, itl)
        if method == "GET":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"service": "genai-bench example JSON LLM API", "generate": "POST /generate"}']
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"message": "not found"}']

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the API until interrupted; prints its address once listening."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--ttft", type=float, default=0.02, help="seconds before the first token")
    parser.add_argument("--itl", type=float, default=0.002, help="seconds between tokens")
    args = parser.parse_args(argv)
    server = WSGIServer((args.host, args.port), application(args.ttft, args.itl), log=None,
                        handler_class=NoDelayHandler)
    server.start()
    print(f"Example JSON LLM API at http://{args.host}:{server.server_port} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
