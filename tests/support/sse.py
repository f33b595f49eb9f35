"""A real HTTP client for text/event-stream responses."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit


class SSEReader:
    """Reads a text/event-stream frame by frame over http.client (chunked decoding included)."""

    def __init__(self, url: str, headers: dict | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        self.response = self.connection.getresponse()

    def frame(self) -> dict:
        """The next frame as {field: value}; `data` is parsed JSON when it is JSON."""
        frame: dict = {}
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if not line:
                if frame:
                    return frame
                continue
            name, _, value = line.partition(":")
            frame[name] = value[1:] if value.startswith(" ") else value
            if name == "data":
                try:
                    frame["data"] = json.loads(frame["data"])
                except ValueError:
                    pass

    def events(self, count: int) -> list[dict]:
        """The next `count` event envelopes (frames with data), skipping retry hints."""
        out = []
        while len(out) < count:
            frame = self.frame()
            if "data" in frame:
                out.append(frame)
        return out

    def close(self) -> None:
        self.connection.close()
