"""What every benchmark script shares: the simulator in its own process."""

from __future__ import annotations

import re
import subprocess
import sys


def start_simulator(*flags: str) -> tuple[subprocess.Popen, str]:
    """`genai-bench simulate --port 0 FLAGS` in its own process; returns the process and its base URL."""
    process = subprocess.Popen([sys.executable, "-m", "genai_bench", "simulate", "--port", "0", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"at (http://127\.0\.0\.1:\d+)/v1", line)
    if not match:
        process.kill()
        raise SystemExit(f"simulator did not start: {line}{process.stdout.read()}")
    return process, match.group(1)
