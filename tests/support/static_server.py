"""A static file server for the --static-url tests, run as a child process: `python -m tests.support.static_server
FOLDER` serves FOLDER on 127.0.0.1:0 with Access-Control-Allow-Origin (as a CDN does) and prints its address."""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


OUTPUT = threading.Lock()  # one whole line per request: the server's threads would interleave print()'s writes


class CorsHandler(SimpleHTTPRequestHandler):
    """Static files with the CORS header a page needs to check their integrity."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        with OUTPUT:
            sys.stdout.write(f"GET {self.path}\n")
            sys.stdout.flush()


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CorsHandler, directory=sys.argv[1]))
    print(f"Static files at http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
