"""What every benchmark script shares: the simulator in its own process, interleaved rounds, the benchmark CLI
and its dashboard."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# The scripts measure this checkout, not an installed copy: put it first here and in every child process.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def start_simulator(*flags: str, command: Sequence[str] = ("-m", "genai_bench", "simulate")) -> tuple[subprocess.Popen, str]:
    """`genai-bench simulate --port 0 FLAGS` (or another `command` printing the same line) in its own process.

    Returns the process and its base URL.
    """
    process = subprocess.Popen([sys.executable, *command, "--port", "0", *flags],
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


def start_benchmark(api_base: str | None, folder: Path, name: str, *flags: str,
                    code: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`genai-bench benchmark --enable-streaming --streaming-port 0 FLAGS` in its own process, output piped.

    Without `api_base` the benchmark runs its embedded simulator; `code` is the checkout it runs (an A/B compares
    two). Returns the process and its live dashboard's URL, once it is printed.
    """
    target = ["--api-base", api_base] if api_base else []
    bench = subprocess.Popen(cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, args=
        [sys.executable, "-m", "genai_bench", "benchmark", *target, "--enable-streaming",
         "--streaming-port", "0", "--experiment-base-dir", str(folder), "--experiment-folder-name", name, *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in bench.stdout:
        if match := re.search(r"Live dashboard: (http://\S+)", line):
            return bench, match.group(1)
    raise SystemExit("benchmark did not start:\n" + bench.stdout.read())


def timed_session(config) -> tuple:
    """Run a BenchmarkSession on `config` in this process: its first run's result and this process's CPU share (%)."""
    import psutil

    from genai_bench.session import BenchmarkSession

    session = BenchmarkSession(config)
    me = psutil.Process()
    cpu_before, wall_before = me.cpu_times(), time.perf_counter()
    result = session.run(handle_signals=False).results[0]
    cpu_after, wall = me.cpu_times(), time.perf_counter() - wall_before
    session.close()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return result, 100.0 * cpu / wall, wall
