"""Shared fixtures for the dashboard page tests: a real `genai-bench benchmark --enable-streaming` child process
(ChildProcess: any child whose output lines are read) and a headless Chromium driven by Playwright."""

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
STARTUP_TIMEOUT = 20.0


class ChildProcess:
    """A child process of the repo (stdout and stderr together); its output lines are collected in a thread."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    @property
    def output(self) -> str:
        """Everything the child printed so far."""
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> str:
        """The first group of the first output line matching `pattern`; fails with the child's output on timeout."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new_line:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match.group(1)
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._new_line.wait(min(remaining, 0.5))
        self.stop()
        pytest.fail(f"no line matching {pattern!r} within {timeout:.0f} s from {' '.join(self.command)} "
                    f"(exit code {self.proc.returncode}); its output:\n{self.output}")

    def wait_exit(self, timeout: float) -> int:
        """Wait for the child to end on its own; fails with its output when it does not."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{' '.join(self.command)} did not finish within {timeout:.0f} s; its output:\n{self.output}")

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a word."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Terminate (then kill) the child if it still runs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)


class BenchmarkProcess(ChildProcess):
    """One `genai-bench benchmark --enable-streaming --streaming-port 0` child; url: its live dashboard."""

    def __init__(self, args: list[str], base_dir: Path) -> None:
        super().__init__([sys.executable, "-m", "genai_bench.cli", "benchmark", "--enable-streaming",
                          "--streaming-port", "0", "--experiment-base-dir", str(base_dir), *args])
        self.url = self.wait_for(r"Live dashboard: (http://\S+)", STARTUP_TIMEOUT)


@pytest.fixture
def start_benchmark(tmp_path):
    """Start a benchmark child with extra CLI args; every child is stopped at teardown."""
    started: list[BenchmarkProcess] = []

    def start(*args: str) -> BenchmarkProcess:
        process = BenchmarkProcess(list(args), tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def page(browser):
    """A fresh desktop-sized page; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
