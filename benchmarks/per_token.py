"""Per-token cost and fidelity: what users meet, a server that writes every token on its own.

Real servers send each token as its own small write (TCP_NODELAY; at 10-50 ms apart nothing coalesces), so the
client wakes once per token per stream. The simulator does the same when tokens are due apart (--itl-ms > 0): one
write per chunk. This script runs, against one simulator in its own process:

  ours       `genai-bench benchmark` (this checkout), a fresh process per run
  reference  benchmarks/reference_client.py: stdlib, one thread, epoll, only receive + chunked decoding + one JSON
             parse and one perf_counter stamp per event (the floor for a Python client)
  upstream   genai-bench 0.0.5 from benchmarks/.venv-upstream (benchmarks/upstream.py installs it), with --upstream

CPU per token is the client's process-tree CPU (user+system, getrusage of the finished child) at the margin: the
difference between a long and a short run over the difference in tokens streamed, so start-up, imports and result
writing cancel out, and CPU that other work on the machine uses is not counted. Rounds are interleaved
(every client short and long each round); medians are printed. Fidelity per concurrency: TTFT error (measured minus
configured) and ITL error (|gap minus configured ITL|), p50 and p99, from every request's own timestamps; the
"knee" is the first concurrency at which p50 passes 1 ms or p99 passes 5 ms (either metric).

    python benchmarks/per_token.py [--itl-ms 1 10] [--cost-concurrency 16] [--concurrency 16 64 256] [--upstream]
    python benchmarks/per_token.py --itl-ms 0 ...   # the zero-delay figure: tokens coalesce into few reads
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import start_simulator

HERE = Path(__file__).resolve().parent
SCENARIO_OUT = 100  # D(100,100): 100 output tokens per request


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(command: list[str], env: dict | None, log: Path, timeout: float, cwd: Path | None = None) -> float:
    """Run a client process to its end; its (and its waited-for children's) CPU-seconds."""
    before = child_cpu()
    with open(log, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                              check=False, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]} failed (exit {done.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
    return child_cpu() - before


def run_file(folder: Path) -> dict:
    files = [p for p in folder.rglob("*.json") if "_time_" in p.name]
    if len(files) != 1:
        raise SystemExit(f"expected one run file under {folder}, found {[p.name for p in files]}")
    return json.loads(files[0].read_text())


class Ours:
    """genai-bench from this checkout (with --num-workers N when workers > 0)."""

    def __init__(self, url: str, work: Path, workers: int = 0, code: Path | None = None) -> None:
        self.url, self.work, self.workers, self.code = url, work, workers, code
        self.name = "before" if code else (f"ours-w{workers}" if workers else "ours")

    def run(self, concurrency: int, requests: int, tag: str) -> dict:
        folder = self.work / f"{self.name}-{tag}"
        command = [sys.executable, "-m", "genai_bench", "benchmark", "--api-base", self.url, "--traffic-scenario",
                   f"D(100,{SCENARIO_OUT})", "--num-concurrency", str(concurrency), "--max-requests-per-run",
                   str(requests), "--max-time-per-run", "10", "--experiment-base-dir", str(self.work),
                   "--experiment-folder-name", folder.name, "--no-stop-on-saturation"]
        if self.workers:
            command += ["--num-workers", str(self.workers)]
        env = {**os.environ, "PYTHONPATH": str(self.code)} if self.code else None
        cpu = run_child(command, env, self.work / f"{folder.name}.log", 900, cwd=self.code)
        document = run_file(folder)
        scale = 1000.0 if document.get("_time_unit", "s") == "s" else 1.0  # to ms
        ttft, itl, tokens = [], [], 0
        for request in document["individual_request_metrics"]:
            if request.get("error_code"):
                continue
            tokens += request["num_output_tokens"]
            ttft.append(request["ttft"] * scale)
            itl.extend(gap * scale for gap in request["itl"])
        return {"cpu": cpu, "tokens": tokens, "requests": len(ttft), "ttft_ms": ttft, "itl_ms": itl}


class Reference:
    """benchmarks/reference_client.py: the floor."""

    name = "reference"

    def __init__(self, url: str, work: Path) -> None:
        self.url, self.work = url, work

    def run(self, concurrency: int, requests: int, tag: str) -> dict:
        out = self.work / f"reference-{tag}.json"
        command = [sys.executable, str(HERE / "reference_client.py"), self.url, "--concurrency", str(concurrency),
                   "--requests", str(requests), "--output-tokens", str(SCENARIO_OUT), "--out", str(out)]
        cpu = run_child(command, None, self.work / f"reference-{tag}.log", 900)
        ttft, itl, tokens = [], [], 0
        for start, times, completion_tokens in json.loads(out.read_text()):
            tokens += completion_tokens
            ttft.append((times[0] - start) * 1000.0)
            itl.extend((b - a) * 1000.0 for a, b in zip(times, times[1:]))
        return {"cpu": cpu, "tokens": tokens, "requests": len(ttft), "ttft_ms": ttft, "itl_ms": itl}


class Upstream:
    """Upstream genai-bench 0.0.5 from its own venv."""

    name = "upstream"

    def __init__(self, url: str, work: Path) -> None:
        import upstream

        self.url, self.work, self.upstream = url, work, upstream
        self.cli, reason = upstream.ensure_upstream(work)
        if self.cli is None:
            raise SystemExit(f"upstream genai-bench {upstream.UPSTREAM_VERSION} cannot run: {reason}")
        self.env = upstream.upstream_env(work)
        self.env.pop("PYTHONPATH", None)  # common.py puts this checkout first: upstream's package has our name

    def run(self, concurrency: int, requests: int, tag: str) -> dict:
        name = f"upstream-{tag}"
        command = self.upstream.upstream_command(self.cli, self.url, f"D(100,{SCENARIO_OUT})", concurrency, requests,
                                                 10, self.work, name)
        cpu = run_child(command, self.env, self.work / f"{name}.log", 900, cwd=self.work)
        summary = self.upstream.read_upstream(self.work / name, concurrency)
        return {"cpu": cpu, "tokens": summary["output_tokens"], "requests": summary["completed"],
                "ttft_ms": [], "itl_ms": [], "ttft_p50_ms": summary["ttft_p50_ms"],
                "ttft_p99_ms": summary["ttft_p99_ms"]}


def errors(run: dict, ttft_ms: float, itl_ms: float) -> dict:
    """p50/p99 of TTFT error (signed) and ITL error (absolute), in ms."""
    out = {}
    if run["ttft_ms"]:
        ttft = np.array(run["ttft_ms"]) - ttft_ms
        out["ttft_p50"], out["ttft_p99"] = float(np.percentile(ttft, 50)), float(np.percentile(ttft, 99))
    elif run.get("ttft_p50_ms") is not None:
        out["ttft_p50"], out["ttft_p99"] = run["ttft_p50_ms"] - ttft_ms, run["ttft_p99_ms"] - ttft_ms
    if run["itl_ms"]:
        itl = np.abs(np.array(run["itl_ms"]) - itl_ms)
        out["itl_p50"], out["itl_p99"] = float(np.percentile(itl, 50)), float(np.percentile(itl, 99))
    return out


def passes(figures: dict) -> bool:
    """True when the timing error passes 1 ms at p50 or 5 ms at p99."""
    return (max(figures.get("ttft_p50", 0.0), figures.get("itl_p50", 0.0)) > 1.0
            or max(figures.get("ttft_p99", 0.0), figures.get("itl_p99", 0.0)) > 5.0)


def cost(clients: list, concurrency: int, short: int, long_default: int, rounds: int) -> dict[str, dict]:
    """Marginal CPU per token of each client: (long run's CPU - short run's) / (its tokens - short's), medians.

    A client with a `long` attribute (upstream: seconds of start-up whose noise would swamp a short margin) uses
    its own long-run length."""
    per_token: dict[str, list[float]] = {c.name: [] for c in clients}
    for round_index in range(rounds):
        for client in clients:
            long = getattr(client, "long", None) or long_default
            a = client.run(concurrency, short, f"c{concurrency}-n{short}-r{round_index}")
            b = client.run(concurrency, long, f"c{concurrency}-n{long}-r{round_index}")
            micro = 1e6 * (b["cpu"] - a["cpu"]) / max(b["tokens"] - a["tokens"], 1)
            if b["tokens"] < 0.9 * long * SCENARIO_OUT or a["tokens"] < 0.9 * short * SCENARIO_OUT:
                print(f"[round {round_index + 1}/{rounds}] {client.name}: not counted, a run streamed too few "
                      f"tokens ({a['tokens']}, {b['tokens']})", flush=True)
                continue
            per_token[client.name].append(micro)
            print(f"[round {round_index + 1}/{rounds}] {client.name}: {micro:.1f} us/token "
                  f"(short {a['cpu']:.2f} s / {a['tokens']} tok, long {b['cpu']:.2f} s / {b['tokens']} tok; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
    return {name: {"us_per_token": statistics.median(v), "rounds": v} for name, v in per_token.items()}


def fidelity(clients: list, concurrencies: list[int], requests_per_user: int, ttft_ms: float, itl_ms: float
             ) -> list[dict]:
    """Each client at each concurrency: its timing errors and its CPU share of the run."""
    rows = []
    for concurrency in concurrencies:
        for client in clients:
            run = client.run(concurrency, max(40, concurrency * requests_per_user), f"fid-c{concurrency}")
            row = {"client": client.name, "concurrency": concurrency, "requests": run["requests"],
                   **errors(run, ttft_ms, itl_ms), "load": os.getloadavg()[0]}
            row["passed"] = passes(row)
            rows.append(row)
            print(f"  {row}", flush=True)
    return rows


def knees(rows: list[dict]) -> dict[str, int | None]:
    """Per client, the first concurrency whose timing error passed the limits (None: none did)."""
    out: dict[str, int | None] = {}
    for row in rows:
        out.setdefault(row["client"], None)
        if row["passed"] and out[row["client"]] is None:
            out[row["client"]] = row["concurrency"]
    return out


def main() -> None:
    """Run the cost and fidelity measurements for each ITL and print them (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--itl-ms", type=float, nargs="+", default=[0.0, 1.0, 10.0],
                        help="0: the zero-delay simulator, where many tokens arrive in one read")
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--cost-concurrency", type=int, nargs="+", default=[16, 16, 64],
                        help="concurrency of the cost runs, one per --itl-ms (the last repeats)")
    parser.add_argument("--short", type=int, default=64, help="requests in the short run of a cost pair")
    parser.add_argument("--long", type=int, default=800, help="requests in the long run of a cost pair")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[16, 64, 128, 256])
    parser.add_argument("--requests-per-user", type=int, default=3)
    parser.add_argument("--upstream", action="store_true", help="also run upstream genai-bench 0.0.5")
    parser.add_argument("--upstream-long", type=int, default=3000,
                        help="requests in upstream's long cost run (its start-up varies by a second or more)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also run genai-bench from this checkout (e.g. the code before a change) as 'before'")
    parser.add_argument("--workers-sweep", type=int, nargs="*", metavar="CONCURRENCY",
                        help="instead: ours with 0, 1 and 2 --num-workers at these concurrencies (at the first "
                             "--itl-ms): the streams followed within 1 ms p50 / 5 ms p99 per worker count")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    if args.workers_sweep:
        workers_sweep(args)
        return
    report = {"load_before": os.getloadavg(), "cores": os.cpu_count(), "by_itl": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for index, itl_ms in enumerate(args.itl_ms):
            concurrency = args.cost_concurrency[min(index, len(args.cost_concurrency) - 1)]
            work = Path(tmp) / f"itl{itl_ms:g}"
            work.mkdir()
            simulator, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(itl_ms), "--jitter-ms",
                                             "0", "--prefill-ms-per-token", "0")
            try:
                clients = [Ours(url, work), Reference(url, work)]
                if args.baseline:
                    clients.append(Ours(url, work, code=args.baseline.resolve()))
                if args.upstream:
                    clients.append(Upstream(url, work))
                    clients[-1].long = args.upstream_long
                print(f"== ITL {itl_ms:g} ms, TTFT {args.ttft_ms:g} ms, D(100,{SCENARIO_OUT}) ==", flush=True)
                costs = cost(clients, concurrency, args.short, args.long, args.rounds)
                rows = fidelity([c for c in clients if c.name != "upstream"], args.concurrency if itl_ms else [], args.requests_per_user,
                                args.ttft_ms, itl_ms)
            finally:
                simulator.terminate()
                simulator.wait(timeout=10)
            report["by_itl"][f"{itl_ms:g}"] = {"cost_concurrency": concurrency, "cost": costs, "fidelity": rows,
                                               "knee": knees(rows)}
            print_summary(itl_ms, concurrency, args, costs, rows)
    report["load_after"] = os.getloadavg()
    print(f"load average before {report['load_before'][0]:.2f}, after {report['load_after'][0]:.2f} "
          f"({report['cores']} cores)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def workers_sweep(args: argparse.Namespace) -> None:
    """Ours with 0, 1 and 2 worker processes at each concurrency: timing errors and the knee per worker count."""
    itl_ms = args.itl_ms[0]
    report = {"load_before": os.getloadavg(), "itl_ms": itl_ms, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        simulator, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(itl_ms), "--jitter-ms", "0",
                                         "--prefill-ms-per-token", "0")
        try:
            clients = [Ours(url, Path(tmp), workers) for workers in (0, 1, 2)]
            report["rows"] = fidelity(clients, args.workers_sweep, args.requests_per_user, args.ttft_ms, itl_ms)
        finally:
            simulator.terminate()
            simulator.wait(timeout=10)
    report["load_after"] = os.getloadavg()
    report["knee"] = knees(report["rows"])
    for row in report["rows"]:
        print(f"  {row['client']:>10} c={row['concurrency']:<4} TTFT p50 {row.get('ttft_p50', float('nan')):6.2f} "
              f"p99 {row.get('ttft_p99', float('nan')):7.2f}  ITL p50 {row.get('itl_p50', float('nan')):6.2f} "
              f"p99 {row.get('itl_p99', float('nan')):7.2f}  {'PAST' if row['passed'] else 'ok'}")
    print(f"knee (first concurrency past 1 ms p50 / 5 ms p99): {report['knee']}; load average "
          f"{report['load_before'][0]:.2f} -> {report['load_after'][0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def print_summary(itl_ms: float, concurrency: int, args: argparse.Namespace, costs: dict, rows: list[dict]) -> None:
    """One ITL's figures."""
    reference = costs["reference"]["us_per_token"]
    print(f"\nITL {itl_ms:g} ms: marginal client CPU per token at concurrency {concurrency} "
          f"(median of {args.rounds} rounds, {args.short} vs {args.long} requests; upstream {args.upstream_long})")
    for name, figures in costs.items():
        extra = "" if name == "reference" else f"  ({figures['us_per_token'] / reference:.2f}x reference)"
        if name == "before":
            extra += f"  (before / ours {figures['us_per_token'] / costs['ours']['us_per_token']:.2f}x)"
        if name == "ours" and "upstream" in costs:
            extra += f"  (upstream / ours {costs['upstream']['us_per_token'] / figures['us_per_token']:.2f}x)"
        print(f"  {name:>10}: {figures['us_per_token']:7.1f} us/token{extra}")
    print("  timing error (ms): TTFT measured-configured, ITL |gap-configured|; knee = first concurrency past "
          "1 ms p50 / 5 ms p99")
    for row in rows:
        print(f"  {row['client']:>10} c={row['concurrency']:<4} TTFT p50 {row.get('ttft_p50', float('nan')):6.2f} "
              f"p99 {row.get('ttft_p99', float('nan')):7.2f}  ITL p50 {row.get('itl_p50', float('nan')):6.2f} "
              f"p99 {row.get('itl_p99', float('nan')):7.2f}  {'PAST' if row['passed'] else 'ok'}")
    if rows:
        print(f"  knee: {knees(rows)}")


if __name__ == "__main__":
    main()
