"""Plot a benchmarks/results/<date>.json (written by run.py) as one PNG: capacity, cost and fidelity.

    pip install matplotlib   # only this script needs it
    python benchmarks/plot.py benchmarks/results/2026-11-27.json [--output docs/performance.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def plot(document: dict, output: Path) -> None:
    """Three panels: req/s and client CPU-s per 1000 requests vs concurrency; TTFT p50 error, ours vs raw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, cost, fidelity) = plt.subplots(1, 3, figsize=(15, 4.2))
    for scenario in sorted({row["scenario"] for row in document["capacity"]}):
        rows = [r for r in document["capacity"] if r["scenario"] == scenario]
        levels = [r["concurrency"] for r in rows]
        throughput.plot(levels, [r["requests_per_second"] for r in rows], marker="o", label=scenario)
        cost.plot(levels, [r["client_cpu_seconds_per_1000_requests"] for r in rows], marker="o", label=scenario)
    for axis, title, unit in ((throughput, "Client capacity (zero-delay simulator)", "completed requests/s"),
                              (cost, "Client cost", "client CPU-seconds per 1000 requests")):
        axis.set(xscale="log", title=title, xlabel="concurrency", ylabel=unit)
        axis.grid(alpha=0.3)
        axis.legend()
    rows = document["fidelity"]
    levels = [r["concurrency"] for r in rows]
    fidelity.plot(levels, [r["ttft_p50_error_ms"] for r in rows], marker="o", label="genai-bench TTFT p50")
    fidelity.plot(levels, [r["raw_ttft_p50_error_ms"] for r in rows], marker="s", label="raw client TTFT p50")
    fidelity.plot(levels, [r["tpot_p50_error_ms"] for r in rows], marker="^", label="genai-bench TPOT p50")
    fidelity.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="1 ms target")
    fidelity.set(xscale="log", yscale="symlog", title="Fidelity: measured − configured",
                 xlabel="concurrency", ylabel="error (ms)")
    fidelity.grid(alpha=0.3)
    fidelity.legend(fontsize=8)
    figure.suptitle(f"genai-bench on {document['machine']['cpus']} cores, {document['date']}")
    figure.tight_layout()
    figure.savefig(output, dpi=110)


def main() -> None:
    """Read the JSON, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--output", type=Path, default=Path("docs/performance.png"))
    args = parser.parse_args()
    plot(json.loads(args.results.read_text()), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
