"""What every benchmark script shares: the simulator in its own process, the benchmark CLI and its dashboard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
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
