"""Ours vs upstream genai-bench 0.0.5: the same workload against the same simulator, interleaved A/B.

    .venv/bin/python benchmarks/upstream.py                  # default: D(100,100) at concurrency 1, 16, 64, 2 rounds
    .venv/bin/python benchmarks/upstream.py --quick          # ~2 minutes: 1 round, fewer requests per run
    .venv/bin/python benchmarks/upstream.py --json out.json  # also write the rows (and every single run) as JSON
    .venv/bin/python benchmarks/upstream.py --scenario "D(100,100)" --scenario "D(1000,50)" --concurrency 1 16 64
    .venv/bin/python benchmarks/upstream.py --with-raw       # also run the no-framework client as a third tool
    .venv/bin/python benchmarks/upstream.py --ours-ref HEAD  # ours (and the simulator) from a commit, not the tree

Setup (once, reused): a venv at benchmarks/.venv-upstream (not in git) with `pip install genai-bench==0.0.5` from the
package registry, and a local transformers tokenizer directory made from our built-in tokenizer
(genai_bench/data/tokenizer.json, by benchmarks/upstream_tokenizer.py), so upstream needs no hub download
(HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1). Upstream runs with ENABLE_UI=false (its MinimalDashboard: no rich live
terminal UI, its cheapest mode; ours has no terminal UI without --enable-streaming), `--api-backend openai`, a dummy
API key, its built-in sonnet.txt prompts and its own result files
(EXPERIMENT/D100_100_text-to-text_num_concurrency_C_time_Ts.json, `aggregated_metrics`).

The simulator (`genai-bench simulate --port 0 --ttft-ms T --itl-ms I --jitter-ms 0`, our venv) runs in its own process
for the whole sweep. For every scenario and concurrency C each tool runs once per round with the same fixed request
count (max(min-requests, requests-per-user x C): 20/160/640 requests at C=1/16/64 by default, about 10-20 s of
load each), in the order ours, upstream, ours, upstream... Each tool is a fresh
process per run (one scenario, one concurrency), as a user would start it.

Measured per run:
  req/s, output tok/s   as each tool reports them in its own result file (its own measurement window: ours from the
                        first request to the last response; upstream from before spawning its users to after stopping
                        them, polled once per second, so it may complete a few more requests than asked)
  TTFT p50/p99 error    the tool's own reported TTFT percentile minus the configured --ttft-ms, in ms
  CPU-s total           the client's CPU (user+system) over its whole process tree, start to exit (imports, tokenizer,
                        the run, writing results; upstream also draws its plots and Excel sheet), exact, from
                        getrusage(RUSAGE_CHILDREN) deltas around the finished child
  CPU-s in run          the client's CPU (psutil, whole process tree, sampled every 0.1 s) over the window in which
                        the simulator was busy serving it (its CPU, read from /proc/PID/task/*/schedstat in ns): the
                        steady-state cost of load generation and measurement, without start-up and reporting
  tok/CPU-s             output tokens the tool counted / CPU-s (total and in run): higher is better
  sim CPU-s             the simulator's CPU during the run
  other CPU-s           CPU that anything else on the machine used during the run (all cores' busy time minus the
                        client, the simulator and this script): other work competing for the 2 cores. Clearly
                        non-zero values mean the latencies of that run are contaminated; rerun on a quiet machine
The table shows the median over rounds; the ratio row is ours / upstream (req/s, tok/s, tok/CPU-s: >1 means ours is
higher; TTFT error: <1 means ours is closer to the configured TTFT).

Caveat: this machine has 2 cores, shared by the tool under test, the simulator and this script's 10 Hz sampler; at
high concurrency the client and the simulator compete for them, so client CPU shows up in everyone's latencies.

If upstream cannot be installed or run, the exact reason is printed and the comparison falls back to the "no-framework"
bound: a minimal raw-socket gevent client in this file (`--raw-client`, run as its own process: gevent sockets, a
hand-written HTTP/1.1 keep-alive request, chunked decoding, TTFT stamped when the bytes of the first chunk with
non-empty content arrive, tokens from the usage chunk), giving the same columns and the ratio ours / raw.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UPSTREAM_VERSION = "0.0.5"
UPSTREAM_VENV = HERE / ".venv-upstream"
UPSTREAM_TOKENIZER_DIR = UPSTREAM_VENV / "tokenizer-genai-bench-builtin"
BUILTIN_TOKENIZER = ROOT / "genai_bench" / "data" / "tokenizer.json"
MODEL = "genai-bench-sim"
SAMPLE_INTERVAL_S = 0.1


# --------------------------------------------------------------------------------------------------------------------
# Setup: our CLI, the upstream venv, the local tokenizer, the simulator
# --------------------------------------------------------------------------------------------------------------------

def our_cli() -> str:
    """Our genai-bench entry point: the project venv's, else the one next to this interpreter, else PATH."""
    for candidate in (ROOT / ".venv" / "bin" / "genai-bench", Path(sys.executable).parent / "genai-bench"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("genai-bench")
    if not found:
        raise SystemExit("our genai-bench CLI was not found (run scripts/bootstrap.sh first)")
    return found


def ours_from_ref(ref: str, work: Path) -> tuple[list[str], dict[str, str]]:
    """Ours as committed at `ref` (git archive into the work folder, read-only for the repository), run with the
    project venv's interpreter: `python -m genai_bench` with the snapshot first on PYTHONPATH."""
    target = work / "ours-src"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, timeout=120, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {ref} failed: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=120)
    python = ROOT / ".venv" / "bin" / "python"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(target) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return [str(python if python.exists() else sys.executable), "-m", "genai_bench"], env


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def pip_errors(output: str) -> str:
    """The lines of pip's output that say what went wrong (pip's config warnings about find-links left out)."""
    wanted = [line for line in output.splitlines()
              if line.startswith("ERROR") or ("error" in line.lower() and "is ignored" not in line)]
    return "\n".join(wanted[-15:]) or tail(output)


def ensure_upstream(work: Path) -> tuple[str | None, str | None]:
    """Install upstream genai-bench into its own venv (once) and build the local tokenizer directory.

    Returns (path of upstream's genai-bench CLI, None) or (None, the exact reason it cannot be used).
    """
    python = UPSTREAM_VENV / "bin" / "python"
    cli = UPSTREAM_VENV / "bin" / "genai-bench"

    def installed_version() -> str | None:
        if not python.exists():
            return None
        # -I: isolated, so the project folder's own genai_bench.egg-info (cwd on sys.path) cannot answer instead
        probe = subprocess.run([str(python), "-I", "-c",
                                "import importlib.metadata as m; print(m.version('genai-bench'))"],
                               capture_output=True, text=True, timeout=120, check=False, cwd=str(UPSTREAM_VENV))
        return probe.stdout.strip() if probe.returncode == 0 else None

    if installed_version() != UPSTREAM_VERSION:
        if not python.exists():
            print(f"creating {UPSTREAM_VENV} ...", flush=True)
            made = subprocess.run([sys.executable, "-m", "venv", str(UPSTREAM_VENV)], capture_output=True, text=True,
                                  timeout=300, check=False)
            if made.returncode != 0:
                return None, f"python -m venv {UPSTREAM_VENV} failed (exit {made.returncode}):\n{tail(made.stderr)}"
        print(f"pip install genai-bench=={UPSTREAM_VERSION} into {UPSTREAM_VENV} (once; a minute or two) ...",
              flush=True)
        try:
            pip = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                                  f"genai-bench=={UPSTREAM_VERSION}"], capture_output=True, text=True, timeout=1200,
                                 check=False, cwd=str(work))
        except subprocess.TimeoutExpired:
            return None, f"pip install genai-bench=={UPSTREAM_VERSION} did not finish within 20 minutes"
        (work / "pip-install.log").write_text(pip.stdout + pip.stderr)
        if pip.returncode != 0:
            return None, (f"pip install genai-bench=={UPSTREAM_VERSION} failed (exit {pip.returncode}):\n"
                          f"{pip_errors(pip.stdout + pip.stderr)}")
        version = installed_version()
        if version != UPSTREAM_VERSION:
            return None, f"after pip install, the upstream venv reports genai-bench version {version!r}"
    if not cli.exists():
        return None, f"{cli} does not exist after installing genai-bench=={UPSTREAM_VERSION}"

    config = UPSTREAM_TOKENIZER_DIR / "tokenizer_config.json"
    if not config.exists() or config.stat().st_mtime < BUILTIN_TOKENIZER.stat().st_mtime:
        built = subprocess.run([str(python), str(HERE / "upstream_tokenizer.py"), str(BUILTIN_TOKENIZER),
                                str(UPSTREAM_TOKENIZER_DIR)], capture_output=True, text=True, timeout=300,
                               env=upstream_env(work), check=False, cwd=str(work))
        if built.returncode != 0:
            return None, (f"building the local tokenizer for upstream failed (exit {built.returncode}):\n"
                          f"{tail(built.stdout + built.stderr)}")
        print(tail(built.stdout, 1), flush=True)
    return str(cli), None


def upstream_env(work: Path) -> dict[str, str]:
    """Upstream's environment: offline hub, no rich live UI, a private HF cache, a headless matplotlib."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                "HF_HOME": str(work / "hf-home"), "ENABLE_UI": "false", "MPLBACKEND": "Agg",
                "TOKENIZERS_PARALLELISM": "false"})
    env.pop("OPENAI_API_KEY", None)
    return env


def start_simulator(ours: list[str], env: dict[str, str] | None, cwd: Path, ttft_ms: float, itl_ms: float,
                    log_path: Path) -> tuple[subprocess.Popen, str]:
    """Our simulator in its own process, output to a file (a pipe nobody drains could block it)."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen([*ours, "simulate", "--port", "0", "--ttft-ms", str(ttft_ms), "--itl-ms",
                                    str(itl_ms), "--jitter-ms", "0"], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, cwd=cwd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/v1", log_path.read_text(errors="replace"))
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    raise SystemExit(f"the simulator did not start:\n{log_path.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    """End a process we started (and its group), politely first."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


# --------------------------------------------------------------------------------------------------------------------
# Measuring one tool run: exact total CPU, sampled CPU over the window the simulator was busy
# --------------------------------------------------------------------------------------------------------------------

def tree_cpu(process: psutil.Process) -> float | None:
    """User+system CPU-seconds of a process, its live descendants and the descendants it already reaped."""
    try:
        procs = [process] + process.children(recursive=True)
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def schedstat_ns(pid: int) -> int:
    """Nanoseconds on CPU of all threads of `pid` (finer than psutil's 10 ms ticks)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
    except FileNotFoundError:
        pass
    return total


def system_busy_s() -> float:
    """CPU-seconds all cores of this machine spent not idle (nor waiting on I/O) since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def wait_for_quiet(max_wait_s: float, threshold: float = 0.15) -> float:
    """Wait (at most max_wait_s) until the machine was nearly idle for a whole second: less than `threshold`
    CPU-seconds busy on all cores together (the simulator is idle between runs). Returns the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < max_wait_s:
        busy = system_busy_s()
        time.sleep(1.0)
        if system_busy_s() - busy < threshold:
            break
    return time.monotonic() - began


def busy_window(samples: list[tuple[float, float | None, int]], max_gap_s: float) -> tuple[int, int] | None:
    """Indexes (before, last) of the longest stretch in which the simulator kept using CPU (gaps <= max_gap_s)."""
    active = [i for i in range(1, len(samples)) if samples[i][2] > samples[i - 1][2]]
    if not active:
        return None
    best, start, prev = None, active[0], active[0]
    for i in active[1:] + [None]:
        if i is not None and samples[i][0] - samples[prev][0] <= max_gap_s:
            prev = i
            continue
        if best is None or samples[prev][0] - samples[start - 1][0] > samples[best[1]][0] - samples[best[0]][0]:
            best = (start - 1, prev)
        if i is not None:
            start = prev = i
    return best


def run_measured(cmd: list[str], env: dict[str, str] | None, cwd: Path, log_path: Path, timeout_s: float,
                 simulator_pid: int, max_gap_s: float) -> dict:
    """Run one client to completion; its exact total CPU, its CPU over the simulator-busy window, wall times."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_before = schedstat_ns(simulator_pid)
    busy_before, self_before = system_busy_s(), psutil.Process().cpu_times()
    samples: list[tuple[float, float | None, int]] = []
    timed_out = False
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                   start_new_session=True)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            samples.append((time.monotonic(), tree_cpu(watched), schedstat_ns(simulator_pid)))
            if time.monotonic() - started > timeout_s:
                timed_out = True
                stop(process)
                break
            time.sleep(SAMPLE_INTERVAL_S)
        process.wait()
        wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, self_after = system_busy_s() - busy_before, psutil.Process().cpu_times()
    out = {"returncode": process.returncode, "timed_out": timed_out, "wall_s": wall,
           "cpu_total_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
           "sim_cpu_s": (schedstat_ns(simulator_pid) - sim_before) / 1e9,
           "sampler_cpu_s": (self_after.user - self_before.user) + (self_after.system - self_before.system),
           "cpu_run_s": None, "run_window_s": None}
    # CPU used on this machine by anything else than the client, the simulator and this script: other work
    # competing for the 2 cores during the run (it inflates latencies; keep it near 0 for clean numbers)
    out["other_cpu_s"] = max(0.0, busy - out["cpu_total_s"] - out["sim_cpu_s"] - out["sampler_cpu_s"])
    samples = [s for s in samples if s[1] is not None]
    window = busy_window(samples, max_gap_s)
    if window:
        first, last = window
        out["cpu_run_s"] = samples[last][1] - samples[first][1]
        out["run_window_s"] = samples[last][0] - samples[first][0]
    return out


# --------------------------------------------------------------------------------------------------------------------
# The tools: command lines and result files
# --------------------------------------------------------------------------------------------------------------------

def scenario_file_glob(concurrency: int) -> str:
    return f"*_num_concurrency_{concurrency}_time_*s.json"


def load_run_file(folder: Path, concurrency: int) -> dict:
    files = sorted(folder.glob(scenario_file_glob(concurrency)))
    if len(files) != 1:
        listing = sorted(p.name for p in folder.iterdir()) if folder.exists() else "missing"
        raise RuntimeError(f"expected one run file {scenario_file_glob(concurrency)} in {folder}, found: {listing}")
    return json.loads(files[0].read_text())


def to_ms(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return value * 1000.0 if unit == "s" else value


def read_ours(folder: Path, concurrency: int) -> dict:
    return read_upstream(folder, concurrency)  # our run files carry upstream's keys (docs/formats.md)


def read_upstream(folder: Path, concurrency: int) -> dict:
    data = load_run_file(folder, concurrency)
    agg, unit = data["aggregated_metrics"], data.get("_time_unit", "s")
    ttft = agg["stats"].get("ttft") or {}
    tokens = (agg["stats"].get("num_output_tokens") or {}).get("sum") or 0
    return {"completed": agg["num_completed_requests"], "errors": agg["num_error_requests"],
            "requests_per_second": agg["requests_per_second"],
            "output_tokens_per_second": agg["mean_output_throughput_tokens_per_s"],
            "output_tokens": tokens, "tool_run_duration_s": agg["run_duration"],
            "ttft_p50_ms": to_ms(ttft.get("p50"), unit), "ttft_p99_ms": to_ms(ttft.get("p99"), unit)}


def ours_command(ours: list[str], url: str, scenario: str, concurrency: int, requests: int, max_minutes: float,
                 base: Path, name: str) -> list[str]:
    return [*ours, "benchmark", "--api-base", url, "--traffic-scenario", scenario, "--num-concurrency", str(concurrency),
            "--max-requests-per-run", str(requests), "--max-time-per-run", str(max_minutes),
            "--experiment-base-dir", str(base), "--experiment-folder-name", name]


def upstream_command(cli: str, url: str, scenario: str, concurrency: int, requests: int, max_minutes: float,
                     base: Path, name: str) -> list[str]:
    return [cli, "benchmark", "--api-backend", "openai", "--api-base", url, "--api-key", "sk-local",
            "--task", "text-to-text", "--api-model-name", MODEL, "--model", MODEL,
            "--model-tokenizer", str(UPSTREAM_TOKENIZER_DIR), "--traffic-scenario", scenario,
            "--num-concurrency", str(concurrency), "--max-requests-per-run", str(requests),
            "--max-time-per-run", str(max(1, round(max_minutes))),  # upstream takes whole minutes
            "--experiment-base-dir", str(base), "--experiment-folder-name", name, "--log-dir", str(base.parent / "upstream-logs" / name)]


def raw_command(url: str, scenario: str, concurrency: int, requests: int, base: Path, name: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--raw-client", url, scenario, str(concurrency),
            str(requests), str(base / name / "raw.json")]


def read_raw(folder: Path, concurrency: int) -> dict:
    return json.loads((folder / "raw.json").read_text())


# --------------------------------------------------------------------------------------------------------------------
# The no-framework bound: a raw-socket gevent client (run in its own process via --raw-client)
# --------------------------------------------------------------------------------------------------------------------

def parse_deterministic(scenario: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*D\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*", scenario)
    if not match:
        raise SystemExit(f"the raw client handles D(in,out) scenarios only, not {scenario!r}")
    return int(match.group(1)), int(match.group(2))


def raw_read_response(sock, start: float) -> dict:
    """Read one streamed chat completion off a keep-alive socket: headers, chunked body, SSE lines."""
    buf = b""
    now = start

    def fill() -> None:
        nonlocal buf, now
        data = sock.recv(65536)
        now = time.perf_counter()  # when these bytes reached the client
        if not data:
            raise ConnectionError("connection closed mid-response")
        buf += data

    while b"\r\n\r\n" not in buf:
        fill()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip().lower()
    close = headers.get(b"connection") == b"close"
    if headers.get(b"transfer-encoding") != b"chunked":
        length = int(headers.get(b"content-length", b"0"))
        while len(buf) < length:
            fill()
        return {"ok": False, "status": status, "close": True, "end": now, "error": buf[:length][:200].decode()}
    first = None
    tokens = None
    sse = b""
    while True:
        while b"\r\n" not in buf:
            fill()
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            fill()
        payload, buf = buf[:size], buf[size + 2:]
        if size == 0:
            break
        sse += payload
        while b"\n" in sse:
            line, sse = sse.split(b"\n", 1)
            if not line.startswith(b"data:"):
                continue
            if first is None and b'"content":"' in line and b'"content":""' not in line:
                first = now
            elif b'"completion_tokens":' in line:
                tokens = int(re.search(rb'"completion_tokens":\s*(\d+)', line).group(1))
    return {"ok": status == 200 and first is not None, "status": status, "close": close, "end": now,
            "first": first, "tokens": tokens}


def raw_client(url: str, scenario: str, concurrency: int, requests: int, out_path: str) -> None:
    """`requests` streamed chat completions from `concurrency` greenlets, each on one keep-alive raw socket."""
    import socket

    import gevent
    import gevent.socket as gsocket

    input_tokens, output_tokens = parse_deterministic(scenario)
    host, port = re.match(r"https?://([^:/]+):(\d+)", url).groups()
    body = json.dumps({"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
                       "max_tokens": output_tokens,
                       "messages": [{"role": "user", "content": "hello " * input_tokens}]}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Authorization: Bearer sk-local\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    remaining = [requests]
    records: list[dict] = []

    def user() -> None:
        sock = None
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            try:
                if sock is None:
                    sock = gsocket.create_connection((host, int(port)), timeout=300)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(request)
                record = raw_read_response(sock, start)
            except (OSError, ValueError) as exc:
                record = {"ok": False, "status": None, "close": True, "end": time.perf_counter(), "error": str(exc)}
            record["start"] = start
            records.append(record)
            if record.get("close") and sock is not None:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    gevent.joinall([gevent.spawn(user) for _ in range(concurrency)])
    ok = [r for r in records if r["ok"]]
    duration = (max(r["end"] for r in records) - min(r["start"] for r in records)) if records else 0.0
    ttfts = sorted((r["first"] - r["start"]) * 1000.0 for r in ok)
    tokens = sum(r["tokens"] or 0 for r in ok)
    result = {"completed": len(ok), "errors": len(records) - len(ok),
              "requests_per_second": len(ok) / duration if duration else 0.0,
              "output_tokens_per_second": tokens / duration if duration else 0.0,
              "output_tokens": tokens, "tool_run_duration_s": duration,
              "ttft_p50_ms": percentile(ttfts, 50), "ttft_p99_ms": percentile(ttfts, 99)}
    Path(out_path).write_text(json.dumps(result))


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method) of an already sorted list."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


# --------------------------------------------------------------------------------------------------------------------
# The sweep, the summary rows, the table
# --------------------------------------------------------------------------------------------------------------------

def one_run(tool: str, command: list[str], env, reader, folder: Path, concurrency: int, work: Path,
            simulator_pid: int, timeout_s: float, max_gap_s: float) -> dict:
    log = work / f"{folder.name}.log"
    measured = run_measured(command, env, work, log, timeout_s, simulator_pid, max_gap_s)
    run = {"tool": tool, **measured, "log": str(log)}
    if measured["timed_out"] or measured["returncode"] != 0:
        reason = "timed out" if measured["timed_out"] else f"exit {measured['returncode']}"
        raise RuntimeError(f"{tool} run failed ({reason}): {' '.join(command)}\n"
                           f"{tail(log.read_text(errors='replace'), 25)}")
    run.update(reader(folder, concurrency))
    return run


def derive(run: dict, ttft_ms: float) -> dict:
    """Per-run figures computed from what was measured."""
    tokens = run["output_tokens"] or 0
    run["tok_per_cpu_total"] = tokens / run["cpu_total_s"] if run["cpu_total_s"] else None
    run["tok_per_cpu_run"] = tokens / run["cpu_run_s"] if run.get("cpu_run_s") else None
    run["ttft_p50_error_ms"] = None if run["ttft_p50_ms"] is None else run["ttft_p50_ms"] - ttft_ms
    run["ttft_p99_error_ms"] = None if run["ttft_p99_ms"] is None else run["ttft_p99_ms"] - ttft_ms
    return run


SUMMARY_FIELDS = ["completed", "errors", "requests_per_second", "output_tokens_per_second", "output_tokens",
                  "cpu_total_s", "cpu_run_s", "run_window_s", "tok_per_cpu_total", "tok_per_cpu_run",
                  "ttft_p50_error_ms", "ttft_p99_error_ms", "sim_cpu_s", "other_cpu_s", "sampler_cpu_s", "wall_s",
                  "tool_run_duration_s"]
RATIO_FIELDS = ["requests_per_second", "output_tokens_per_second", "tok_per_cpu_total", "tok_per_cpu_run",
                "ttft_p50_error_ms"]


def median_of(runs: list[dict], field: str) -> float | None:
    values = [r[field] for r in runs if r.get(field) is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict], tools: list[str], baseline: str) -> list[dict]:
    rows = []
    keys = []
    for run in runs:
        if (run["scenario"], run["concurrency"]) not in keys:
            keys.append((run["scenario"], run["concurrency"]))
    for scenario, concurrency in keys:
        by_tool = {}
        for tool in tools:
            mine = [r for r in runs if r["scenario"] == scenario and r["concurrency"] == concurrency
                    and r["tool"] == tool]
            if not mine:
                continue
            row = {"scenario": scenario, "concurrency": concurrency, "tool": tool, "rounds": len(mine),
                   "requests_per_run": mine[0]["requests_asked"]}
            row.update({field: median_of(mine, field) for field in SUMMARY_FIELDS})
            by_tool[tool] = row
            rows.append(row)
        if "ours" in by_tool and baseline in by_tool:
            ratio = {"scenario": scenario, "concurrency": concurrency, "tool": f"ours/{baseline}"}
            for field in RATIO_FIELDS:
                a, b = by_tool["ours"].get(field), by_tool[baseline].get(field)
                ratio[field] = a / b if a is not None and b not in (None, 0) else None
            rows.append(ratio)
    return rows


def fmt(value, spec: str) -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def print_table(rows: list[dict], args: argparse.Namespace, baseline: str) -> None:
    print()
    print(f"simulator: TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, jitter 0; median of {args.rounds} round(s); "
          f"TTFT err = tool-reported TTFT minus configured, ms; CPU-s over the client's whole process tree; "
          f"tok/CPU-s = output tokens per client CPU-second; 2 cores shared by client, simulator and sampler")
    header = ["scenario", "conc", "tool", "done", "req/s", "out tok/s", "CPU-s tot", "CPU-s run", "tok/CPU-s tot",
              "tok/CPU-s run", "TTFT p50 err", "TTFT p99 err", "sim CPU-s", "other CPU-s", "wall s"]
    widths = [11, 4, 16, 5, 7, 9, 9, 9, 13, 13, 12, 12, 9, 11, 6]
    print("  ".join(h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        is_ratio = "/" in row["tool"]
        if is_ratio:
            cells = [row["scenario"], str(row["concurrency"]), row["tool"], "", fmt(row["requests_per_second"], ".2f"),
                     fmt(row["output_tokens_per_second"], ".2f"), "", "", fmt(row["tok_per_cpu_total"], ".2f"),
                     fmt(row["tok_per_cpu_run"], ".2f"), fmt(row["ttft_p50_error_ms"], ".2f"), "", "", "", ""]
        else:
            cells = [row["scenario"], str(row["concurrency"]), row["tool"], fmt(row["completed"], ".0f"),
                     fmt(row["requests_per_second"], ".2f"), fmt(row["output_tokens_per_second"], ".1f"),
                     fmt(row["cpu_total_s"], ".2f"), fmt(row["cpu_run_s"], ".2f"), fmt(row["tok_per_cpu_total"], ".0f"),
                     fmt(row["tok_per_cpu_run"], ".0f"), fmt(row["ttft_p50_error_ms"], "+.2f"),
                     fmt(row["ttft_p99_error_ms"], "+.2f"), fmt(row["sim_cpu_s"], ".2f"),
                     fmt(row["other_cpu_s"], ".2f"), fmt(row["wall_s"], ".1f")]
        print("  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    print(f"ratio rows: ours/{baseline}; req/s, tok/s, tok/CPU-s: >1 = ours higher; TTFT p50 err: <1 = ours closer "
          f"to the configured TTFT")


def git_describe(ref: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s", ref], capture_output=True,
                         text=True, timeout=30, check=False)
    return out.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", help='traffic scenario (repeatable); default "D(100,100)"')
    parser.add_argument("--concurrency", type=int, nargs="+", help="default 1 16 64")
    parser.add_argument("--rounds", type=int, help="A/B rounds per scenario and concurrency (default 2, --quick 1)")
    parser.add_argument("--requests-per-user", type=int, help="requests per run = max(min, this x concurrency); "
                                                                 "default 10 (--quick 4)")
    parser.add_argument("--min-requests", type=int, help="at least this many requests per run (default 20, --quick 8)")
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--max-time-per-run", type=float, default=2.0, help="minutes, both tools (upstream: whole)")
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes)")
    parser.add_argument("--with-raw", action="store_true", help="also run the no-framework raw-socket client")
    parser.add_argument("--json", metavar="PATH", help="write the rows and every run as JSON")
    parser.add_argument("--ours-ref", metavar="REF", help="run ours and the simulator from this git commit "
                        "(git archive into the work folder) instead of the working tree")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="before each run, wait up to S seconds for the machine to be idle (shared machines)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (experiment folders, logs)")
    parser.add_argument("--raw-client", nargs=5, metavar=("URL", "SCENARIO", "CONC", "REQUESTS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.raw_client:
        url, scenario, concurrency, requests, out = args.raw_client
        raw_client(url, scenario, int(concurrency), int(requests), out)
        return

    scenarios = args.scenario or ["D(100,100)"]
    concurrencies = args.concurrency or [1, 16, 64]
    args.rounds = args.rounds or (1 if args.quick else 2)
    per_user = args.requests_per_user or (4 if args.quick else 10)
    min_requests = args.min_requests or (8 if args.quick else 20)
    began = time.monotonic()

    work = Path(tempfile.mkdtemp(prefix="genai-bench-upstream-"))
    if args.ours_ref:
        ours, ours_env = ours_from_ref(args.ours_ref, work)
        print(f"ours: {args.ours_ref} ({git_describe(args.ours_ref)}) from {work / 'ours-src'}", flush=True)
    else:
        ours, ours_env = [our_cli()], None
    upstream_cli, upstream_problem = ensure_upstream(work)
    if upstream_problem:
        print(f"UPSTREAM genai-bench {UPSTREAM_VERSION} CANNOT BE USED HERE: {upstream_problem}")
        print("falling back to the no-framework bound (raw-socket gevent client)", flush=True)
    print(f"setup done in {time.monotonic() - began:.0f} s; work folder {work}", flush=True)

    simulator, url = start_simulator(ours, ours_env, work, args.ttft_ms, args.itl_ms, work / "simulator.log")
    print(f"simulator at {url} (pid {simulator.pid})", flush=True)
    max_gap_s = 0.5 + 2 * args.ttft_ms / 1000.0
    timeout_s = args.max_time_per_run * 60 + 180
    tools = ["ours"]
    if upstream_cli:
        tools.append("upstream")
    if args.with_raw or not upstream_cli:
        tools.append("raw")
    baseline = "upstream" if upstream_cli else "raw"
    up_env = upstream_env(work)
    runs: list[dict] = []
    commands: dict[str, str] = {}
    try:
        for round_index in range(args.rounds):
            for scenario in scenarios:
                for concurrency in concurrencies:
                    requests = max(min_requests, per_user * concurrency)
                    pending = list(tools)
                    while pending:
                        tool = pending.pop(0)
                        name = f"{tool}_r{round_index}_{re.sub(r'[^0-9A-Za-z]+', '_', scenario)}_c{concurrency}"
                        base = work / "experiments"
                        if tool == "ours":
                            command = ours_command(ours, url, scenario, concurrency, requests, args.max_time_per_run,
                                                   base, name)
                            env, reader = ours_env, read_ours
                        elif tool == "upstream":
                            command = upstream_command(upstream_cli, url, scenario, concurrency, requests,
                                                       args.max_time_per_run, base, name)
                            env, reader = up_env, read_upstream
                        else:
                            (base / name).mkdir(parents=True, exist_ok=True)
                            command = raw_command(url, scenario, concurrency, requests, base, name)
                            env, reader = None, read_raw
                        commands.setdefault(tool, " ".join(f"'{c}'" if " " in c or "(" in c else c
                                                           for c in command))
                        waited = wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
                        try:
                            run = one_run(tool, command, env, reader, base / name, concurrency, work,
                                          simulator.pid, timeout_s, max_gap_s)
                        except RuntimeError as exc:
                            if tool != "upstream":
                                raise
                            upstream_problem = str(exc)
                            print(f"UPSTREAM genai-bench {UPSTREAM_VERSION} FAILED TO RUN: {upstream_problem}")
                            print("falling back to the no-framework bound (raw-socket gevent client)", flush=True)
                            tools.remove("upstream")
                            baseline = "raw"
                            if "raw" not in tools:
                                tools.append("raw")
                                pending.append("raw")
                            continue
                        run.update({"scenario": scenario, "concurrency": concurrency, "round": round_index,
                                    "requests_asked": requests, "waited_for_quiet_s": waited})
                        runs.append(derive(run, args.ttft_ms))
                        print(f"[round {round_index + 1}/{args.rounds}] {scenario} c={concurrency} {tool:8s} "
                              f"{run['completed']}/{requests} ok, {run['requests_per_second']:.2f} req/s, "
                              f"TTFT p50 err {fmt(run['ttft_p50_error_ms'], '+.2f')} ms, "
                              f"CPU {run['cpu_total_s']:.2f} s total / {fmt(run['cpu_run_s'], '.2f')} s in run, "
                              f"other load {run['other_cpu_s']:.2f} CPU-s, wall {run['wall_s']:.1f} s", flush=True)
    finally:
        stop(simulator)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows = summarize(runs, [t for t in ("ours", "upstream", "raw") if any(r["tool"] == t for r in runs)], baseline)
    print_table(rows, args, baseline)
    for tool, command in commands.items():
        print(f"{tool} command (first run): {command}")
    if upstream_problem:
        print(f"upstream problem: {upstream_problem}")
    elapsed = time.monotonic() - began
    print(f"total time {elapsed:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "config": {"scenarios": scenarios, "concurrencies": concurrencies, "rounds": args.rounds,
                       "requests_per_user": per_user, "min_requests": min_requests, "ttft_ms": args.ttft_ms,
                       "itl_ms": args.itl_ms, "upstream_version": UPSTREAM_VERSION, "baseline": baseline,
                       "upstream_problem": upstream_problem, "ours_ref": args.ours_ref, "commands": commands,
                       "elapsed_s": elapsed},
            "rows": rows, "runs": runs}, indent=2))
        print(f"rows written to {args.json}")


if __name__ == "__main__":
    main()
