"""Fault matrix: each fault the simulator can inject (and a server that goes away), counted by its code while the run
goes on.

One benchmark (`genai-bench benchmark`, no dashboard) per fault, against a simulator started with that fault's
switches; the table shows the requests measured, the errors by code (genai_bench/protocol.py: HTTP statuses,
connection_error, timeout, incomplete_stream, malformed_chunk...) and whether the run finished with its file
written. "refused connection" stops the simulator a few seconds into the run and restarts it on the same port.

    python benchmarks/faults.py [--seconds 8] [--concurrency 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from common import ROOT, start_simulator

RATE = "0.2"
# fault: (simulator switches, extra benchmark flags)
FAULTS: dict[str, tuple[list[str], list[str]]] = {
    "none": ([], []),
    "refused connection": ([], []),
    "timeout (stall 3 s > --request-timeout 1)": (["--stall-rate", RATE, "--stall-ms", "3000"], ["--request-timeout", "1"]),
    "429/500/503": (["--error-rate", "0.3", "--error-codes", "429,500,503"], []),
    "truncated stream (no finish_reason)": (["--cut-off-rate", RATE], []),
    "malformed chunk": (["--malformed-rate", RATE], []),
    "stall (300 ms, under the timeout)": (["--stall-rate", RATE, "--stall-ms", "300"], []),
    "disconnect mid-stream": (["--disconnect-rate", RATE], []),
}


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_fault(name: str, args: argparse.Namespace, folder: Path) -> dict:
    """One benchmark against a simulator injecting `name`; the row of the table."""
    switches, flags = FAULTS[name]
    port = free_port()
    base = ["--ttft-ms", "20", "--itl-ms", "5", "--seed", "7", *switches, "--port", str(port)]
    simulator, url = start_simulator(*base)
    outage = None
    if name == "refused connection":
        def restart() -> None:
            nonlocal simulator
            time.sleep(args.seconds / 4)
            simulator.terminate()
            simulator.wait()
            time.sleep(args.seconds / 4)
            simulator, _ = start_simulator(*base)
        outage = threading.Thread(target=restart)
        outage.start()
    run_name = "".join(c if c.isalnum() else "_" for c in name)
    try:
        bench = subprocess.run(
            [sys.executable, "-m", "genai_bench", "benchmark", "--api-base", url, "--num-concurrency",
             str(args.concurrency), "--traffic-scenario", "D(100,50)", "--max-time-per-run", str(args.seconds / 60),
             "--max-requests-per-run", "100000", "--experiment-base-dir", str(folder), "--experiment-folder-name",
             run_name, *flags], cwd=ROOT, capture_output=True, text=True, timeout=args.seconds + 120)
    finally:
        if outage:
            outage.join()
        simulator.terminate()
    files = list((folder / run_name).glob("D100_*.json"))
    if not files:
        return {"fault": name, "requests": 0, "errors": {}, "finished": False, "exit_code": bench.returncode,
                "output": bench.stdout[-2000:] + bench.stderr[-2000:]}
    run = json.loads(files[0].read_text())
    metrics = run["aggregated_metrics"]
    return {"fault": name, "requests": len(run["individual_request_metrics"]), "completed": metrics["num_completed_requests"],
            "errors": metrics["error_kinds_frequency"], "finished": bench.returncode == 0 and not metrics["partial"],
            "exit_code": bench.returncode}


def main() -> None:
    """Every fault in turn; print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--faults", nargs="+", choices=list(FAULTS), default=list(FAULTS))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    with TemporaryDirectory() as folder:
        for name in args.faults:
            rows.append(run_fault(name, args, Path(folder)))
            row = rows[-1]
            print(f"{row['fault']:<44} {row['requests']:>6} "
                  f"{', '.join(f'{k}: {v}' for k, v in sorted(row['errors'].items())) or '–':<58} "
                  f"{'yes' if row['finished'] else 'NO'}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
