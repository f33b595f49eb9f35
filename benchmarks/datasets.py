"""Client CPU per request: prompts from a 1,000-row ShareGPT file vs synthetic D(100,100), interleaved.

The ShareGPT file is generated here (prompts of 50-500 words, answers of 50-300 words, words drawn from the bundled
corpus). Each run is a real BenchmarkSession in this process, closed loop, against a zero-delay simulator in its own
process, so this process's CPU is the client's alone. Modes:
  synthetic      --traffic-scenario D(100,100)
  dataset        --traffic-scenario dataset: each row's prompt, max_tokens = its answer's length (~1.3x D's output)
  dataset-100    the same, with max_tokens forced to 100 (--additional-request-params): the same output as D(100,100),
                 so the difference is the dataset path's own cost (row draws, token counts, longer prompts)
Per mode: CPU-seconds per 1000 requests (median of the rounds), its ratio to synthetic, and the one-off setup CPU
(reading the dataset and counting its rows, or tokenizing the built-in corpus) before the first request.

    python benchmarks/datasets.py [--requests 2000] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import genai_bench  # noqa: F401  (gevent patch first)
import numpy as np
import psutil

from genai_bench.cli import configure_logging
from genai_bench.config import BenchmarkConfig
from genai_bench.prompt_datasets import DatasetSpec
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from genai_bench.tokenizer import CORPUS_PATH

from common import interleaved_medians, start_simulator

MODES = {
    "synthetic": dict(traffic_scenarios=[parse_scenario("D(100,100)")]),
    "dataset": dict(traffic_scenarios=[parse_scenario("dataset")]),
    "dataset-100": dict(traffic_scenarios=[parse_scenario("dataset")], additional_request_params={"max_tokens": 100}),
}


def write_sharegpt(path: Path, rows: int, seed: int = 0) -> Path:
    """A ShareGPT file of `rows` one-exchange conversations with realistic lengths."""
    words = CORPUS_PATH.read_text(encoding="utf-8").split()
    rng = np.random.default_rng(seed)

    def text(low: int, high: int) -> str:
        start = int(rng.integers(len(words) - high))
        return " ".join(words[start:start + int(rng.integers(low, high + 1))])

    data = [{"id": str(i), "conversations": [{"from": "human", "value": text(50, 500)},
                                             {"from": "gpt", "value": text(50, 300)}]} for i in range(rows)]
    path.write_text(json.dumps(data))
    return path


def run_mode(url: str, mode: str, dataset: Path, args: argparse.Namespace, folder: Path) -> dict:
    """One request-limited run; this process's CPU over it (the client: users, sampling, statistics, files)."""
    config = BenchmarkConfig(api_base=url, concurrencies=[args.concurrency], max_requests_per_run=args.requests,
                             max_time_per_run=10.0, experiment_base_dir=str(folder),
                             experiment_folder_name=f"{mode}_{time.monotonic_ns()}", seed=1,
                             dataset=DatasetSpec.from_cli(str(dataset)) if mode != "synthetic" else None,
                             **MODES[mode])
    me = psutil.Process()
    started = me.cpu_times()
    session = BenchmarkSession(config)  # the dataset is read here
    session.start()  # and its rows counted here, before the clock
    before = me.cpu_times()
    result = session.run(handle_signals=False).results[0]
    after = me.cpu_times()
    session.close()
    stats = result.statistics
    cpu = (after.user - before.user) + (after.system - before.system)
    setup = (before.user - started.user) + (before.system - started.system)
    return {"cpu_seconds_per_1000_requests": 1000.0 * cpu / max(stats.num_requests, 1), "setup_cpu_seconds": setup,
            "requests_per_second": stats.requests_per_second,
            "mean_input_tokens": stats.total_input_tokens / max(stats.num_requests, 1),
            "mean_output_tokens": stats.total_output_tokens / max(stats.num_requests, 1)}


def main() -> None:
    """Run the comparison and print the figures (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in (("--requests", 2000), ("--concurrency", 16), ("--rows", 1000), ("--rounds", 3)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    configure_logging()
    simulator, url = start_simulator("--ttft-ms", "0", "--itl-ms", "0", "--spin-ms", "0")
    try:
        with TemporaryDirectory() as folder:
            dataset = write_sharegpt(Path(folder) / "sharegpt.json", args.rows)
            rows = interleaved_medians(list(MODES), args.rounds,
                                       lambda mode: run_mode(url, mode, dataset, args, Path(folder)))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    base = rows["synthetic"]["cpu_seconds_per_1000_requests"]
    print(f"\n{args.requests} requests per run at concurrency {args.concurrency}, zero-delay simulator in its own "
          f"process, median of {args.rounds} interleaved rounds; client CPU only")
    print("mode          CPU-s/1k req  vs synthetic  req/s  in tok  out tok  setup CPU-s")
    for mode, row in rows.items():
        cpu = row["cpu_seconds_per_1000_requests"]
        print(f"{mode:<12} {cpu:13.3f} {cpu / base:12.2f}x {row['requests_per_second']:6.0f} "
              f"{row['mean_input_tokens']:7.0f} {row['mean_output_tokens']:8.0f} {row['setup_cpu_seconds']:12.2f}")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
