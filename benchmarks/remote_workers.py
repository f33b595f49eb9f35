"""--distributed on this host: how long workers take to join, how exactly their clock offset is measured, and the
throughput of remote-style workers against local ones (`--num-workers`), all through the real CLI.

Each round starts `benchmark --distributed --expect-workers 2` and two `genai-bench worker` processes, one of them
with a known clock skew (the hidden --clock-skew-test): the error of the measured offset against that skew is the
estimate's real error. Then the same sweep with `--num-workers 2`. Against a zero-delay simulator in its own
process; closed loop, one run per round.

    python benchmarks/remote_workers.py [--rounds 3] [--seconds 10] [--concurrency 64] [--skew 12345.678]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
WAITING = re.compile(r"^Waiting for \d+ worker\(s\) at [\d.]+:(\d+)")


def genai_bench(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "genai_bench", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def sweep_args(api_base: str, seconds: float, concurrency: int) -> list[str]:
    return ["benchmark", "--api-base", api_base, "--traffic-scenario", "D(100,100)", "--num-concurrency",
            str(concurrency), "--max-requests-per-run", "10000000", "--max-time-per-run", str(seconds / 60),
            "--experiment-folder-name", "exp", "--server-metrics", "off"]


def req_per_s(folder: Path) -> float:
    from genai_bench.results import load_experiment

    return load_experiment(folder).runs[0].aggregated["requests_per_second"]


def distributed_round(api_base: str, args: argparse.Namespace, cwd: Path) -> dict:
    master = genai_bench(*sweep_args(api_base, args.seconds, args.concurrency), "--distributed", "--expect-workers",
                         "2", cwd=cwd)
    port = None
    for line in master.stdout:
        if (match := WAITING.match(line)):
            port = match.group(1)
            break
    started = time.perf_counter()
    workers = [genai_bench("worker", "--master-port", port, *extra, cwd=cwd)
               for extra in ((), ("--clock-skew-test", str(args.skew)))]
    joined = None
    for line in master.stdout:
        if line.startswith("Users run in"):
            joined = time.perf_counter() - started
    master.wait()
    for worker in workers:
        worker.communicate()
    metadata = json.loads((cwd / "experiments" / "exp" / "experiment_metadata.json").read_text())
    offsets = sorted(metadata["cluster"]["workers"], key=lambda w: w["wall_clock_offset"])
    return {"join_s": joined, "error_ms": (offsets[1]["wall_clock_offset"] - args.skew) * 1000,
            "unskewed_ms": offsets[0]["wall_clock_offset"] * 1000,
            "uncertainty_ms": max(w["uncertainty"] for w in offsets) * 1000,
            "req_s": req_per_s(cwd / "experiments" / "exp")}


def local_round(api_base: str, args: argparse.Namespace, cwd: Path) -> float:
    master = genai_bench(*sweep_args(api_base, args.seconds, args.concurrency), "--num-workers", "2", cwd=cwd)
    master.communicate()
    return req_per_s(cwd / "experiments" / "exp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skew", type=float, default=12345.678)
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        simulator = genai_bench("simulate", "--port", "0", "--ttft-ms", "0", "--itl-ms", "0", cwd=Path(tmp))
        api_base = re.search(r"at (http://\S+)/v1", simulator.stdout.readline()).group(1)
        distributed, local = [], []
        try:
            for round_number in range(args.rounds):
                for mode in ("distributed", "local"):
                    cwd = Path(tmp) / f"{mode}{round_number}"
                    cwd.mkdir()
                    if mode == "distributed":
                        distributed.append(distributed_round(api_base, args, cwd))
                    else:
                        local.append(local_round(api_base, args, cwd))
        finally:
            simulator.terminate()
            simulator.wait()
    for row in distributed:
        print("distributed: " + ", ".join(f"{key} {value:.3f}" for key, value in row.items()))
    print(f"--distributed 2 workers: {statistics.median(r['req_s'] for r in distributed):.0f} req/s (median); "
          f"--num-workers 2: {statistics.median(local):.0f} req/s (median of {args.rounds})")
    print(f"clock offset error vs the known skew: max {max(abs(r['error_ms']) for r in distributed):.3f} ms; "
          f"reported uncertainty max {max(r['uncertainty_ms'] for r in distributed):.3f} ms; "
          f"join (2 workers, from their start): median {statistics.median(r['join_s'] for r in distributed):.2f} s")


if __name__ == "__main__":
    main()
