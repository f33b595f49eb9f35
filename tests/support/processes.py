"""One wrapper for every child process the tests start: the CLI, `genai-bench serve`, gunicorn, example scripts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def genai_bench_command(*args: str) -> list[str]:
    """The command line of `genai-bench ARGS`, run with this interpreter."""
    return [sys.executable, "-m", "genai_bench", *args]


def child_environment(env: dict | None = None) -> dict:
    """This environment plus `env`, unbuffered, with this checkout first on the path: a child runs the code under
    test from any working directory, not a copy installed in the virtualenv."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(env or {})}


def run_genai_bench(cwd: Path, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run `genai-bench ARGS` in `cwd` to completion; stdout and stderr are kept apart, as text."""
    return subprocess.run(genai_bench_command(*args), cwd=cwd, env=child_environment(), capture_output=True, text=True,
                          timeout=timeout)


class ChildProcess:
    """A child process whose output (stdout and stderr together) is read line by line in the background.

    Every failure (a line that never comes, a child that does not exit) kills the child and fails the test showing
    everything it printed. stop() always leaves nothing behind; the fixtures call it at teardown.
    """

    def __init__(self, command: list[str], cwd: Path = REPO_ROOT, env: dict | None = None) -> None:
        self.command = command
        self.lines: list[str] = []
        self.proc = subprocess.Popen(command, cwd=cwd, env=child_environment(env),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything the child printed so far."""
        return "\n".join(self.lines)

    def _fail(self, what: str) -> None:
        self.stop()
        pytest.fail(f"{what} from {' '.join(map(str, self.command))} (exit code {self.proc.returncode}); "
                    f"its output:\n{self.output}")

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """The first output line (from the start) matching `pattern`, waiting up to `timeout` seconds for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new_line:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    break
                self._new_line.wait(min(remaining, 0.5))
        self._fail(f"no line matching {pattern!r} within {timeout:g} s")

    def send_signal(self, sig: int) -> None:
        """Send `sig` if the child still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def interrupt(self) -> None:
        """Ctrl-C."""
        self.send_signal(signal.SIGINT)

    def wait_exit(self, timeout: float = 60.0) -> int:
        """Wait for the child to end (all its output read) and return its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"no exit within {timeout:g} s")
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        """SIGKILL: the child vanishes without a word."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s, if the child still runs; then close its output."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)
        self.proc.stdout.close()


def serve_experiments(folders: list[Path], start=ChildProcess) -> ChildProcess:
    """Start `genai-bench serve --port 0` on `folders` with `start` (ChildProcess, or the child_processes fixture);
    `url` is where it serves them once it says so."""
    command = genai_bench_command("serve", "--port", "0", *[a for f in folders for a in ("--experiment-folder", str(f))])
    child = start(command)
    child.url = child.wait_for(r"Serving \d+ experiment\(s\) at (http://\S+?/)", 20).group(1)
    return child
