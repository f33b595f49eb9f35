"""The options of `genai-bench benchmark`, parsed into a BenchmarkConfig: one module for the CLI and for wsgi.py."""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import click
import orjson

from genai_bench.alerts import ACTIONS, NOTIFY, NOTIFY_AUTO, NOTIFY_CHOICES, AlertSettings
from genai_bench.cluster import ClusterSettings
from genai_bench.config import (BACKENDS, EMBEDDED_MODEL, ENDPOINTS, MAX_RATE, SEARCH_KINDS, SUPPORTED_TASKS,
                                BenchmarkConfig, ConfigError)
from genai_bench.fanout.settings import DEFAULT_MAXLEN, RedisSettings
from genai_bench.images import IMAGE_FORMATS, IMAGE_TASK
from genai_bench.prompt_datasets import DatasetSpec
from genai_bench.scenarios import parse_scenario
from genai_bench.slo import parse_slos
from genai_bench.tasks import RERANK_ENDPOINTS

ALLOWED_HOSTS_OPTION = click.option(
    "--streaming-allowed-hosts", multiple=True,
    help="Host names the dashboard answers besides its address and loopback (DNS rebinding guard); repeatable or "
         "comma-separated, * for any. Not needed with --streaming-token.")

BENCHMARK_OPTIONS = [
    click.option("--api-backend", default="openai", type=click.Choice(BACKENDS), show_default=True,
              help="Server flavour; vllm and sglang also send ignore_eos to force the output length."),
    click.option("--api-base", default=None, help="Server URL, e.g. http://localhost:8000. Omitted: the embedded simulator."),
    click.option("--api-key", default="", envvar="OPENAI_API_KEY", help="Bearer token (or OPENAI_API_KEY). Never written anywhere."),
    click.option("--model", default=None,
              help="Model label for folder names; also sent unless --api-model-name. Default: the model sent."),
    click.option("--api-model-name", default=None,
              help=f"Model name sent to the server. Default: --model, else the first model the server lists "
                   f"({EMBEDDED_MODEL} for the embedded simulator)."),
    click.option("--model-tokenizer", default=None, help="tokenizer.json, a directory holding one, or a hub id (needs network). Default: built-in."),
    click.option("--task", default="text-to-text", show_default=True,
              help=f"Benchmark task: {', '.join(SUPPORTED_TASKS)}, or a plugin's (genai-bench plugins)."),
    click.option("--endpoint", default="chat", type=click.Choice(ENDPOINTS), show_default=True,
              help="chat: /v1/chat/completions; completions: /v1/completions."),
    click.option("--traffic-scenario", multiple=True,
              help="D(in,out), N(mi,si)/(mo,so), U(min_in,max_in)/(min_out,max_out), U(max_in,max_out); E(tokens) for "
                   "text-to-embeddings, R(document_tokens,query_tokens) for text-to-rerank, I(width,height[,count]) "
                   "for image-text-to-text (needs the images extra); repeatable. Default: D(100,100), E(256), R(256,64) "
                   "or I(512,512) by task."),
    click.option("--num-concurrency", multiple=True,
              help="Concurrent users per run; repeatable or comma-separated. Default: 1 2 4 8 (1 for batched tasks)."),
    click.option("--request-rate", multiple=True,
              help="Open loop: requests per second, one run per value (repeatable or comma-separated); "
                   "replaces the concurrency sweep."),
    click.option("--max-concurrency", default=256, type=int, show_default=True,
              help="Open loop: the most requests in flight at once (users)."),
    click.option("--arrival", default="poisson", type=click.Choice(["poisson", "constant"]), show_default=True,
              help="Open loop: Poisson arrivals or evenly spaced ones."),
    click.option("--max-time-per-run", default=0.2, type=float, show_default=True, help="Minutes per run (float allowed)."),
    click.option("--max-requests-per-run", default=100, type=int, show_default=True, help="Requests issued per run, exactly."),
    click.option("--warmup-ratio", default=0.0, type=float, show_default=True, help="Share of first requests left out of the statistics."),
    click.option("--cooldown-ratio", default=0.0, type=float, show_default=True, help="Share of last requests left out of the statistics."),
    click.option("--additional-request-params", default=None, help="JSON object merged into every request body (your values win)."),
    click.option("--experiment-base-dir", default="experiments", show_default=True, help="Where experiment folders go."),
    click.option("--experiment-folder-name", default=None, help="Folder name (default <backend>_<task>_<model>_<time>)."),
    click.option("--metrics-time-unit", default="s", type=click.Choice(["s", "ms"]), show_default=True, help="Time unit in the run files."),
    click.option("--spawn-rate", default=None, type=float,
              help="Users started per second (default: all at once, each run sending its first requests once every "
                   "user is connected)."),
    click.option("--num-workers", default=0, type=int, show_default=True,
              help="Run the users in this many local Locust worker processes under a master here (0: in this process)."),
    click.option("--master-port", default=0, type=int, show_default=True,
              help="Port of the Locust master for --num-workers or --distributed (0 picks a free one)."),
    click.option("--request-timeout", default=300.0, type=float, show_default=True, help="Seconds before a request counts as a timeout."),
    click.option("--seed", default=None, type=int, help="Seed for reproducible scenario and prompt sampling."),
    click.option("--server-engine", default=None, help="Label: serving engine (vLLM, SGLang...)."),
    click.option("--server-version", default=None, help="Label: server version."),
    click.option("--server-gpu-type", default=None, help="Label: GPU type."),
    click.option("--server-gpu-count", default=None, type=int, help="Label: number of GPUs."),
    click.option("--enable-streaming", is_flag=True, help="Serve the live dashboard (page, /events, /ws, /api) during the run."),
    click.option("--streaming-host", default="127.0.0.1", show_default=True, help="Dashboard address (0.0.0.0 exposes it)."),
    click.option("--streaming-port", default=8080, type=int, show_default=True, help="Dashboard port (0 picks a free one)."),
    click.option("--streaming-token", default=None, envvar="GENAI_BENCH_STREAMING_TOKEN",
              help="Require this token on every dashboard endpoint (or GENAI_BENCH_STREAMING_TOKEN)."),
    ALLOWED_HOSTS_OPTION,
    click.option("--keep-serving", is_flag=True, help="After the benchmark, keep serving the results page until Ctrl-C."),
]

# Multi-turn sessions: each user plays whole conversations, sending back the server's own answers.
MULTI_TURN_OPTIONS = [
    click.option("--multi-turn", is_flag=True,
              help="Play the dataset's conversations turn by turn (chat history with the server's real answers)."),
    click.option("--turns", default=1, type=int, show_default=True,
              help="Conversations of N turns, each new user message drawn from the traffic scenario."),
    click.option("--think-time", default=0.0, type=float, show_default=True,
              help="Seconds between an answer and the conversation's next turn (not counted in any latency)."),
]
BENCHMARK_OPTIONS += MULTI_TURN_OPTIONS
# What the prompts are made of (issue 12): upstream genai-bench's dataset options, and shared prefixes.
WORKLOAD_OPTIONS = [
    click.option("--dataset-path", default=None,
                 help="Prompts from a ShareGPT/JSON/JSON-lines/CSV/text file, a Hugging Face save_to_disk folder or a "
                      "cached hub id (offline). --distributed sends a file up to 32 MiB to the workers; a folder, hub "
                      "id or larger file must be readable on each worker's machine too."),
    click.option("--dataset-config", default=None, help="A JSON file describing the dataset (upstream's keys: source, "
                                                         "prompt_column, output_column, filters)."),
    click.option("--dataset-prompt-column", default="prompt", show_default=True, help="The prompt's column (JSON, CSV)."),
    click.option("--dataset-output-column", default=None,
                 help="The reference answer's column: its length sets max_tokens with --traffic-scenario dataset."),
    click.option("--dataset-image-column", default=None,
                 help=f"{IMAGE_TASK}: the column holding each row's image (a path relative to the dataset, bytes, "
                      "or a Hugging Face Image); rows without one get generated images."),
    click.option("--image-format", default="jpeg", type=click.Choice(IMAGE_FORMATS), show_default=True,
                 help=f"{IMAGE_TASK}: how the images are encoded in the requests' data URIs."),
    click.option("--prefix-len", default=None, type=int, help="Start every prompt with a shared prefix of this many tokens."),
    click.option("--prefix-ratio", default=None, type=float,
                 help="Shared prefix as a share (0-1) of the scenario's mean input; excludes --prefix-len."),
    click.option("--prefix-groups", default=1, type=int, show_default=True,
                 help="Distinct shared prefixes, used in turn by successive requests."),
]
BENCHMARK_OPTIONS += WORKLOAD_OPTIONS
# Service-level objectives (issue 13): each run reports the share of requests meeting them, and goodput.
SLO_OPTIONS = [
    click.option("--slo", multiple=True,
                 help="A latency target, e.g. ttft=200ms, tpot=50ms, e2e=5s, itl=100ms (a request's largest ITL) or "
                      "ttft_answer=1s; repeatable or comma-separated. Runs report SLO attainment and goodput."),
]
BENCHMARK_OPTIONS += SLO_OPTIONS
# Capacity search, over-saturation and repeats (issue 13, parts 4-6).
SEARCH_OPTIONS = [
    click.option("--search", default=None, type=click.Choice(SEARCH_KINDS),
                 help="Find the highest load that meets the SLOs (--slo): max-rate searches --request-rate (open "
                      "loop), max-concurrency the users (closed loop, up to --max-concurrency). Doubles the load "
                      "from the first given value (or 1) while it passes, then bisects."),
    click.option("--slo-attainment", default=0.9, type=float, show_default=True,
                 help="Share of a search step's requests that must meet every SLO for the step to pass."),
    click.option("--search-tolerance", default=0.05, type=float, show_default=True,
                 help="The search stops when its bounds are this close (relative; adjacent concurrencies also stop)."),
    click.option("--search-max-steps", default=12, type=int, show_default=True, help="Most runs a search makes."),
    click.option("--repeats", default=1, type=int, show_default=True,
                 help="Run each scenario × load point N times (rounds of the whole sweep); results show the mean "
                      "and a 95% confidence interval."),
    click.option("--stop-on-saturation/--no-stop-on-saturation", default=True, show_default=True,
                 help="End a run early (marked oversaturated) when its latency counted from the schedule (open "
                      "loop) or TTFT (closed loop) keeps rising: the server cannot keep up."),
]
BENCHMARK_OPTIONS += SEARCH_OPTIONS
# Arrival shapes and trace replay (issue 13): open-loop send times beyond a steady rate.
ARRIVAL_OPTIONS = [
    click.option("--burstiness", default=None, type=float,
                 help="Open loop: gamma-distributed gaps of shape K (mean 1/rate, coefficient of variation 1/sqrt(K)); "
                      "1 is Poisson, below 1 burstier."),
    click.option("--ramp-up-seconds", default=0.0, type=float, show_default=True,
                 help="Open loop: the rate rises linearly from 0 to --request-rate over this many seconds, then stays."),
    click.option("--trace", default=None,
                 help="Replay a Mooncake JSON-lines trace (timestamp ms, input_length, output_length, hash_ids) as one "
                      "open-loop run; replaces the scenarios and the load sweep."),
    click.option("--trace-speed", default=1.0, type=float, show_default=True,
                 help="Replay the trace this many times faster (2: the gaps halved)."),
]
BENCHMARK_OPTIONS += ARRIVAL_OPTIONS
# Tasks beyond text-to-text (issue 15): inputs per request for the batched tasks, and where rerank requests go.
TASK_OPTIONS = [
    click.option("--batch-size", multiple=True,
                 help="text-to-embeddings, text-to-rerank: inputs (texts or documents) per request, one run per value "
                      "(repeatable or comma-separated); the sweep's axis. Default: 1 8."),
    click.option("--rerank-endpoint", default="/v1/rerank", type=click.Choice(RERANK_ENDPOINTS), show_default=True,
                 help="text-to-rerank: the path rerank requests go to, from the server's root."),
]
BENCHMARK_OPTIONS += TASK_OPTIONS
# The server's view (issue 14): its own /metrics, scraped in this process while the benchmark runs.
SERVER_METRICS_OPTIONS = [
    click.option("--server-metrics", multiple=True, default=("auto",), show_default=True,
                 help="Scrape Prometheus /metrics while benchmarking: auto (the target's /metrics, dropped with one "
                      "log line if it has none), off, or URLs (repeatable: several servers, a DCGM exporter)."),
    click.option("--server-metrics-interval", default=1.0, type=float, show_default=True,
                 help="Seconds between scrapes of --server-metrics."),
    click.option("--server-metrics-include", default=None,
                 help="A regular expression: metrics outside the normalized vocabulary whose name matches are kept "
                      "raw (e.g. 'vllm:spec_decode')."),
]
BENCHMARK_OPTIONS += SERVER_METRICS_OPTIONS
# Alerts and notifications (issue 19, alerts.py, notifiers.py, docs/alerts.md).
ALERT_OPTIONS = [
    click.option("--alert", multiple=True,
                 help="A rule watched on every live snapshot, e.g. 'ttft.p99>500ms', 'error_rate>5%', "
                      "'server.kv_cache_usage>95%', 'goodput<10', with 'for 10s' to ignore blips; repeatable. It "
                      "fires (and resolves) on the page, the terminal, the event log and the notifiers."),
    click.option("--alert-webhook", multiple=True, envvar="GENAI_BENCH_ALERT_WEBHOOK",
                 help="POST each alert, and the benchmark's end, as JSON with a `text` field (Slack-compatible) to "
                      "this URL; repeatable (or GENAI_BENCH_ALERT_WEBHOOK). Never written anywhere."),
    click.option("--alert-action", default=NOTIFY, type=click.Choice(ACTIONS), show_default=True,
                 help="What a firing rule does: notify, or stop the benchmark (the run is kept, marked "
                      "stopped_by_alert)."),
    click.option("--notify", "notify", default=NOTIFY_AUTO, type=click.Choice(NOTIFY_CHOICES), show_default=True,
                 help="auto: the notifiers (webhooks, plugins) also announce the benchmark's completion, failure "
                      "or interruption; none: alerts only."),
]
BENCHMARK_OPTIONS += ALERT_OPTIONS
# Workers on other hosts (issue 17): the master waits for `genai-bench worker` processes instead of starting them.
CLUSTER_OPTIONS = [
    click.option("--distributed", is_flag=True,
                 help="Run no users here: wait for --expect-workers `genai-bench worker --master-host H --master-port "
                      "P` processes (any host) and drive them (docs/distributed.md)."),
    click.option("--expect-workers", default=0, type=int, help="--distributed: the workers to wait for."),
    click.option("--master-bind-host", default="127.0.0.1", show_default=True,
                 help="--distributed: the master's address; 0.0.0.0 (every interface) lets other hosts join."),
    click.option("--expect-workers-max-wait", default=60.0, type=float, show_default=True,
                 help="--distributed: seconds to wait for every worker before giving up."),
]
BENCHMARK_OPTIONS += CLUSTER_OPTIONS
# Live events fanned out through Redis (issue 17, docs/redis.md): dashboards on other processes or hosts serve them.
REDIS_OPTIONS = [
    click.option("--streaming-redis-url", default=None, envvar="GENAI_BENCH_STREAMING_REDIS_URL",
                 help="Also publish every live event to this Redis (redis://HOST:PORT/N), a stream per experiment, "
                      "for `genai-bench serve --redis-url` dashboards anywhere (needs the redis extra)."),
    click.option("--streaming-redis-maxlen", default=DEFAULT_MAXLEN, type=int, show_default=True,
                 help="Events kept per experiment stream (older ones trimmed; runs and the latest state are kept)."),
    click.option("--streaming-redis-retention", default=None,
                 help="Delete the experiment's Redis keys this long after its last event (seconds, or 90m, 12h, 7d); "
                      "default: kept until deleted."),
]
BENCHMARK_OPTIONS += REDIS_OPTIONS
# Results in a database (issue 18): experiments, runs and request records written as runs finish.
RESULTS_DB_OPTIONS = [
    click.option("--results-db", default=None,
                 help="Also write the results to this database as runs finish: sqlite:///path.db (or a file path) or "
                      "postgresql://user@host/db (the db extra). The experiment folder stays the source of truth."),
    click.option("--results-db-requests", default="sample", type=click.Choice(("none", "sample", "all")),
                 show_default=True, help="Request records written to --results-db: none, a sample (1000 per run) or "
                                         "all."),
]
BENCHMARK_OPTIONS += RESULTS_DB_OPTIONS


def benchmark_options(command: Callable) -> Callable:
    """Add every `benchmark` option to a click command."""
    for option in reversed(BENCHMARK_OPTIONS):
        command = option(command)
    return command


def parse_benchmark_args(args: list[str]) -> BenchmarkConfig:
    """`genai-bench benchmark` arguments (e.g. from an environment variable) as a validated BenchmarkConfig."""
    command = click.command("benchmark")(benchmark_options(lambda **_: None))
    context = command.make_context("benchmark", list(args))
    return build_config(context.params, ["genai-bench", "benchmark", *args])


def split_values(values: tuple[str, ...]) -> list[str]:
    """Accept both repeated options and comma-separated lists ("1,2,4")."""
    return [part for value in values for part in value.split(",") if part]


def parse_positive(option: str, values: tuple[str, ...], convert: Callable[[str], float], kind: str) -> list:
    """Repeated or comma-separated positive numbers, or a one-line error naming the option."""
    try:
        numbers = [convert(v) for v in split_values(values)]
    except ValueError:
        raise ConfigError(f"{option} takes {kind}, got {' '.join(values)!r}") from None
    if any(n <= 0 for n in numbers):
        raise ConfigError(f"{option} values must be positive ({kind})")
    return numbers


def parse_json_object(option: str, text: str | None) -> dict:
    """A JSON object option, or a one-line error naming the option."""
    if not text:
        return {}
    example = "pass an object like '{\"temperature\": 0}'"
    try:
        value = json.loads(text, parse_constant=_non_finite, parse_float=_finite_float)
        orjson.dumps(value)  # every request body is encoded with orjson, which refuses integers beyond 64 bits
    except (ValueError, TypeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{option} is not valid JSON ({reason}); {example}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object: {example}")
    return value


def _non_finite(name: str) -> float:
    # Python's json accepts NaN and Infinity, which no JSON server does.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large for a JSON number")
    return number


# Issue 19: the page's assets from a CDN or mirror (web/static_url.py checks the URL and pins each file's hash).
STATIC_URL_OPTION = click.option(
    "--static-url", default=None,
    help="Load the dashboard page's CSS/JS from this base URL (a CDN or mirror serving a copy of static/ with "
         "Access-Control-Allow-Origin), each file pinned by a sha384 integrity hash of the local copy. "
         "Default: served by the dashboard itself, offline.")
BENCHMARK_OPTIONS += [STATIC_URL_OPTION]

# Options whose value goes to the BenchmarkConfig field of the same name as it is.
PASSED_AS_IS = (
    "api_base", "api_backend", "model", "api_model_name", "model_tokenizer", "task", "endpoint", "max_concurrency",
    "arrival", "max_time_per_run", "max_requests_per_run", "warmup_ratio", "cooldown_ratio", "experiment_base_dir",
    "experiment_folder_name", "metrics_time_unit", "spawn_rate", "num_workers", "master_port", "request_timeout",
    "seed", "server_engine", "server_version", "server_gpu_type", "server_gpu_count", "enable_streaming",
    "streaming_host", "streaming_port", "streaming_token", "streaming_allowed_hosts", "keep_serving",
)
PASSED_AS_IS += ("multi_turn", "turns", "think_time")
PASSED_AS_IS += ("search", "slo_attainment", "search_tolerance", "search_max_steps", "repeats", "stop_on_saturation")
PASSED_AS_IS += ("burstiness", "ramp_up_seconds", "trace", "trace_speed")
PASSED_AS_IS += ("rerank_endpoint",)
PASSED_AS_IS += ("server_metrics_interval", "server_metrics_include")
PASSED_AS_IS += ("image_format",)
PASSED_AS_IS += ("static_url",)
PASSED_AS_IS += ("results_db", "results_db_requests")


def build_config(options: dict[str, Any], command: list[str]) -> BenchmarkConfig:
    """Turn parsed options into a validated BenchmarkConfig; `command` is recorded (redacted) in the metadata."""
    return BenchmarkConfig(
        **{**{name: options[name] for name in PASSED_AS_IS}, **cluster_fields(options)},
        api_key=options["api_key"] or "",
        traffic_scenarios=[parse_scenario(text) for text in split_scenarios(options["traffic_scenario"])],
        concurrencies=parse_positive("--num-concurrency", options["num_concurrency"], int, "positive integers"),
        request_rates=request_rates(options),
        batch_sizes=parse_positive("--batch-size", options["batch_size"], int, "positive integers"),
        additional_request_params=parse_json_object("--additional-request-params", options["additional_request_params"]),
        command=list(command),
        **workload_settings(options),
        slo=parse_slos(options["slo"]),
        server_metrics=tuple(split_values(options["server_metrics"])) or ("auto",),
        alerts=alert_settings(options),
        streaming_redis=RedisSettings.of(options["streaming_redis_url"], options["streaming_redis_maxlen"],
                                         options["streaming_redis_retention"]),
    ).validate()


def alert_settings(options: dict[str, Any]) -> AlertSettings | None:
    """The --alert rules and notifier options, checked against --slo and --server-metrics; None when none is given."""
    settings = AlertSettings.of(options["alert"], options["alert_webhook"], options["alert_action"], options["notify"])
    if settings == AlertSettings():
        return None
    return settings.validate(bool(options["slo"]), split_values(options["server_metrics"]) or ("auto",))


def cluster_fields(options: dict[str, Any]) -> dict[str, Any]:
    """The --distributed settings, and num_workers: the workers the master waits for, or the local ones it starts."""
    cluster = ClusterSettings.of(options)
    if cluster.distributed and options["num_workers"]:
        raise ConfigError("--num-workers starts local worker processes and --distributed waits for remote ones; "
                          "give one")
    workers = cluster.expect_workers if cluster.distributed else options["num_workers"]
    return {"cluster": cluster, "num_workers": workers}


def request_rates(options: dict[str, Any]) -> list[float]:
    """The --request-rate values; a rate search with none starts at 1 request per second."""
    rates = parse_positive("--request-rate", options["request_rate"], float, "requests per second")
    return rates or ([1.0] if options["search"] == MAX_RATE else [])


def workload_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The BenchmarkConfig fields of the dataset and prefix options; a dataset named twice is a one-line error."""
    path, config_file = options["dataset_path"], options["dataset_config"]
    if path and config_file:
        raise ConfigError("--dataset-path and --dataset-config both name a dataset; give one "
                          "(the config file's source.path says where its data is)")
    dataset = None
    if config_file:
        dataset = DatasetSpec.from_config_file(config_file)
    elif path:
        dataset = DatasetSpec.from_cli(path, options["dataset_prompt_column"], options["dataset_output_column"],
                                       options["dataset_image_column"])
    return {"dataset": dataset, "prefix_len": options["prefix_len"], "prefix_ratio": options["prefix_ratio"],
            "prefix_groups": options["prefix_groups"]}


def split_scenarios(values: tuple[str, ...]) -> list[str]:
    """Scenarios contain commas themselves, so only a space separates several in one value."""
    return [part for value in values for part in value.split()]
