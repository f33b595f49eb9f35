"""What every benchmark script shares: the simulator in its own process, interleaved rounds."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections.abc import Callable


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


def interleaved_medians(modes: list[str], rounds: int, run: Callable[[str], dict]) -> dict[str, dict]:
    """Run every mode once per round, in turn (a shared machine's load then falls on all alike); each figure's
    median per mode."""
    rows: dict[str, list[dict]] = {mode: [] for mode in modes}
    for round_index in range(rounds):
        for mode in modes:
            rows[mode].append(run(mode))
            print(f"[round {round_index + 1}/{rounds}] {mode}: {rows[mode][-1]}", flush=True)
    return {mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for mode, runs in rows.items()}
