"""An experiment folder shaped like upstream genai-bench 0.0.5 writes one, built from its documented format
(ExperimentMetadata, AggregatedMetrics with MetricStats, RequestLevelMetrics; latencies in s or ms by `_time_unit`,
run_duration always in seconds)."""

from __future__ import annotations

import json
from pathlib import Path

STAT_KEYS = ("min", "max", "mean", "stddev", "sum", "p25", "p50", "p75", "p90", "p95", "p99")
LATENCY_FIELDS = ("ttft", "tpot", "e2e_latency", "output_latency")
SCENARIO = "D(100,100)"
# Per concurrency: completed, errors by HTTP status, run duration (s), TTFT of every completed request (s).
RUNS = {1: (10, {}, 5.0, 0.05), 2: (18, {"500": 2}, 6.0, 0.08)}
INPUT_TOKENS, OUTPUT_TOKENS = 100, 100


def stat_field(value: float, count: int) -> dict:
    """A StatField of `count` equal values."""
    return {"min": value, "max": value, "mean": value, "stddev": 0.0, "sum": value * count, "p25": value,
            "p50": value, "p75": value, "p90": value, "p95": value, "p99": value}


def request_metrics(ttft: float) -> dict:
    """One successful request's RequestLevelMetrics, in seconds."""
    output_latency = 0.01 * (OUTPUT_TOKENS - 1)
    return {"ttft": ttft, "tpot": 0.01, "e2e_latency": ttft + output_latency, "output_latency": output_latency,
            "output_inference_speed": 100.0, "num_input_tokens": INPUT_TOKENS, "num_output_tokens": OUTPUT_TOKENS,
            "num_reasoning_tokens": 0, "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            "input_throughput": INPUT_TOKENS / ttft, "output_throughput": (OUTPUT_TOKENS - 1) / output_latency,
            "audio_throughput": None, "error_code": None, "error_message": None}


def aggregated(concurrency: int) -> dict:
    """A run's AggregatedMetrics (seconds), as upstream's model_dump gives it."""
    completed, errors, duration, ttft = RUNS[concurrency]
    one = request_metrics(ttft)
    stats = {name: stat_field(one[name], completed) for name in one if name not in ("error_code", "error_message",
                                                                                     "audio_throughput")}
    stats["audio_throughput"] = {key: None for key in STAT_KEYS}
    num_errors = sum(errors.values())
    return {
        "scenario": SCENARIO, "num_concurrency": concurrency, "batch_size": 1, "iteration_type": "num_concurrency",
        "run_duration": duration,
        "mean_output_throughput_tokens_per_s": completed * OUTPUT_TOKENS / duration,
        "mean_input_throughput_tokens_per_s": completed * INPUT_TOKENS / duration,
        "mean_total_tokens_throughput_tokens_per_s": completed * (INPUT_TOKENS + OUTPUT_TOKENS) / duration,
        "requests_per_second": completed / duration, "error_codes_frequency": errors,
        "error_rate": num_errors / (completed + num_errors), "num_error_requests": num_errors,
        "num_completed_requests": completed, "num_requests": completed + num_errors, "stats": stats,
    }


def to_unit(record: dict, time_unit: str) -> dict:
    """Latency fields (and their stats) scaled to `time_unit`, like upstream's TimeUnitConverter."""
    if time_unit == "s":
        return record
    out = {**record}
    for name in LATENCY_FIELDS:
        if isinstance(out.get(name), (int, float)):
            out[name] = out[name] * 1000.0
    if "stats" in out:
        out["stats"] = {name: ({k: v * 1000.0 for k, v in field.items()} if name in LATENCY_FIELDS else field)
                        for name, field in out["stats"].items()}
    return out


def write_upstream_folder(folder: Path, time_unit: str = "s") -> Path:
    """Write metadata and one run file per concurrency into `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "cmd": "genai-bench benchmark --api-backend openai ...", "benchmark_version": "0.0.5", "api_backend": "openai",
        "auth_config": {}, "api_model_name": "llama", "server_model_tokenizer": "meta-llama/Llama-3.1-8B",
        "model": "llama", "task": "text-to-text", "num_concurrency": sorted(RUNS), "batch_size": None,
        "iteration_type": "num_concurrency", "traffic_scenario": [SCENARIO], "additional_request_params": {},
        "server_engine": "vLLM", "server_version": "0.6.0", "server_gpu_type": "H100", "server_gpu_count": "8",
        "max_time_per_run_s": 60, "max_requests_per_run": 100, "experiment_folder_name": folder.name,
        "metrics_time_unit": time_unit, "dataset_path": None,
    }
    (folder / "experiment_metadata.json").write_text(json.dumps(metadata, indent=4))
    for concurrency, (completed, errors, _, ttft) in RUNS.items():
        failed = [{**{k: None for k in request_metrics(ttft)}, "error_code": 500, "error_message": "boom"}
                  for _ in range(sum(errors.values()))]
        document = {"aggregated_metrics": to_unit(aggregated(concurrency), time_unit),
                    "individual_request_metrics": [to_unit(request_metrics(ttft), time_unit)] * completed + failed,
                    "_time_unit": time_unit}
        name = f"D100_100_text-to-text_num_concurrency_{concurrency}_time_60s.json"
        (folder / name).write_text(json.dumps(document, indent=4))
    return folder
