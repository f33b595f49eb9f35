"""All of genai-bench's own performance figures in one run: client capacity, timing fidelity, streaming cost.

    python benchmarks/run.py            # the full set (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick    # fewer levels, shorter runs (about 3 minutes)

Prints each table and writes benchmarks/results/<YYYY-mm-dd>.json with every row and the machine's description.
Everything runs on this machine: the simulator, the client and the SSE viewers share its cores, so CPU shares are
printed beside every figure. The upstream comparison is separate: benchmarks/upstream.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import capacity  # noqa: E402
import fidelity  # noqa: E402
import streaming  # noqa: E402


def machine() -> dict:
    """What the figures were measured on."""
    import psutil

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "load_average": os.getloadavg()}


def main() -> None:
    """Run the three benchmarks and save their rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer levels, shorter runs")
    args = parser.parse_args()
    capacity.configure_logging()
    quick = args.quick
    document = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": quick, "machine": machine()}

    print("== a. client capacity (simulator with zero delays, own process) ==")
    document["capacity"] = capacity.capacity(["D(100,100)", "D(1000,50)"],
                                             [1, 64, 512] if quick else [1, 8, 64, 256, 512], 5.0 if quick else 10.0)
    capacity.print_capacity(document["capacity"])

    print("\n== b. fidelity (simulator TTFT 50 ms, ITL 10 ms; measured minus configured) ==")
    fidelity_args = argparse.Namespace(ttft_ms=50.0, itl_ms=10.0, output_tokens=50,
                                       concurrency=[1, 16, 64] if quick else [1, 16, 64, 256],
                                       requests_per_user=4 if quick else 6)
    document["fidelity"] = fidelity.sweep(fidelity_args)
    fidelity.print_table(document["fidelity"], fidelity_args)

    print("\n== c. streaming cost (0, 1, 50 SSE viewers) ==")
    streaming_args = argparse.Namespace(viewers=[0, 1, 50], rounds=1 if quick else 2, concurrency=64,
                                        seconds=8.0 if quick else 12.0, output_tokens=100, ttft_ms=10.0, itl_ms=2.0)
    document["streaming"] = streaming.sweep(streaming_args)
    streaming.print_table(document["streaming"], streaming_args)

    out = HERE / "results" / f"{time.strftime('%Y-%m-%d')}{'-quick' if quick else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
