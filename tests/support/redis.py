"""A real redis-server for the tests: Debian's binary on a free loopback port, its files in a temp dir."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.support.servers import free_port

REDIS_SERVER = "/usr/bin/redis-server"


def redis_binary() -> str:
    """The redis-server binary, or a skip saying how to install it."""
    found = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)
    if found is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; scripts/bootstrap.sh --test does it)")
    return found


def start_redis(start, folder: Path, port: int | None = None):
    """Start redis-server with `start` (the child_processes fixture) on `port` (default: a free one), keeping no
    files beyond `folder`; the child has `url` and `port` once it accepts connections."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    child = start([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(folder), "--protected-mode", "no"], cwd=folder)
    child.wait_for(r"Ready to accept connections", timeout=20)
    child.port, child.url = port, f"redis://127.0.0.1:{port}/0"
    return child


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll `predicate` until it returns something true (returned) or `timeout` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
