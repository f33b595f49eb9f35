"""The settings of one benchmark, validated once so that every layer below can trust them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from genai_bench.cluster import ClusterSettings
from genai_bench.images import IMAGE_FORMATS, IMAGE_TASK, ImagesUnavailable, require_pillow
from genai_bench.prompt_datasets import DatasetSpec
from genai_bench.redaction import redact_url, redacted_command
from genai_bench.scenarios import (DATASET, TRACE_SCENARIO, Scenario, parse_scenario, prefix_tokens,
                                   shortest_likely_input)
from genai_bench.tasks import BUILTIN_TASKS, DEFAULT_BATCH_SIZES, RERANK_ENDPOINTS, TASKS, TaskSpec

SUPPORTED_TASKS = tuple(BUILTIN_TASKS)  # plugins add theirs (TASKS loads them when asked for a name beyond these)
BACKENDS = ("openai", "vllm", "sglang")
ENDPOINTS = ("chat", "completions")
EMBEDDED_MODEL = "genai-bench-sim"
# Bounds that keep every later step (timers, JSON files, seeds) inside what it can represent.
MAX_TIME_MINUTES = 7 * 24 * 60.0  # a week: gevent timers and libev overflow long before inf
MAX_REQUEST_TIMEOUT = 24 * 3600.0
MAX_REQUESTS_PER_RUN = 10**12
MAX_SEED = 2**63 - 1  # the metadata's JSON encoder stores 64-bit integers
MAX_WORKERS = 256
MAX_LABEL_COUNT = 10**6
MAX_TURNS = 10_000
MAX_PREFIX_GROUPS = 10_000
MAX_BATCH_SIZE = 100_000
DEFAULT_CONCURRENCIES = (1, 2, 4, 8)
# Few served models take longer contexts; a scenario asking for more on average gets a warning (the hard limit is
# scenarios.MAX_SCENARIO_TOKENS).
LONG_CONTEXT_TOKENS = 131_072


class ConfigError(ValueError):
    """A setting is invalid; the message is one line that says what to change."""


@dataclass
class BenchmarkConfig:
    """Everything `genai-bench benchmark` was asked to do."""

    api_base: str | None = None
    api_key: str = ""
    api_backend: str = "openai"
    model: str | None = None  # the label; None: the model sent (see model_label)
    api_model_name: str | None = None
    model_tokenizer: str | None = None
    task: str = "text-to-text"
    endpoint: str = "chat"
    traffic_scenarios: list[Scenario] = field(default_factory=list)  # empty: the task's default scenario
    concurrencies: list[int] = field(default_factory=list)  # empty: 1 2 4 8, or 1 for a batched task
    # Batched tasks (text-to-embeddings, text-to-rerank): inputs per request, the sweep's axis; empty: 1 and 8.
    batch_sizes: list[int] = field(default_factory=list)
    rerank_endpoint: str = "/v1/rerank"
    request_rates: list[float] = field(default_factory=list)  # open loop when set: one run per rate
    max_concurrency: int = 256  # open loop: users, i.e. the most requests in flight at once
    arrival: str = "poisson"
    max_time_per_run: float = 0.2  # minutes, like upstream
    max_requests_per_run: int | None = 100
    warmup_ratio: float = 0.0
    cooldown_ratio: float = 0.0
    additional_request_params: dict = field(default_factory=dict)
    experiment_base_dir: str = "experiments"
    experiment_folder_name: str | None = None
    metrics_time_unit: str = "s"
    spawn_rate: float | None = None
    num_workers: int = 0  # 0: users run in this process; N: N local Locust worker processes under a master here
    master_port: int = 0  # the Locust master's port on 127.0.0.1; 0 picks a free one
    cluster: ClusterSettings = field(default_factory=ClusterSettings)  # --distributed: num_workers remote workers
    request_timeout: float = 300.0
    seed: int | None = None
    server_engine: str | None = None
    server_version: str | None = None
    server_gpu_type: str | None = None
    server_gpu_count: int | None = None
    enable_streaming: bool = False
    streaming_host: str = "127.0.0.1"
    streaming_port: int = 8080
    streaming_token: str | None = None
    streaming_allowed_hosts: tuple[str, ...] = ()  # Host names the dashboard accepts besides its address (no token)
    keep_serving: bool = False
    static_url: str | None = None  # --static-url: the page's assets from a mirror of static/ (web/static_url.py)
    # Multi-turn sessions (conversations.py): replay a dataset's conversations, or --turns synthetic user messages.
    multi_turn: bool = False
    turns: int = 1
    think_time: float = 0.0  # seconds between an answer and the next turn
    # What the prompts are made of (issue 12): a dataset, and prefixes shared by groups of requests.
    dataset: DatasetSpec | None = None  # --dataset-path / --dataset-config
    prefix_len: int | None = None  # tokens
    prefix_ratio: float | None = None  # share of each prompt (of the scenario's mean input)
    prefix_groups: int = 1
    # Service-level objectives (--slo, slo.py): {metric: target in seconds}; runs then report attainment and goodput.
    slo: dict[str, float] = field(default_factory=dict)
    # Capacity search, over-saturation and repeats (issue 13, parts 4-6): search_checks validates them.
    search: str | None = None  # max-rate (open loop) or max-concurrency (closed loop)
    slo_attainment: float = 0.9  # share of a step's requests that must meet every SLO
    search_tolerance: float = 0.05  # relative width of the final bounds
    search_max_steps: int = 12
    repeats: int = 1  # runs per scenario × load point
    stop_on_saturation: bool = True  # end a run early when the server clearly cannot keep up
    # Arrival shapes and trace replay (issue 13): open-loop send times beyond a steady rate.
    burstiness: float | None = None  # gamma shape K of the gaps between arrivals (1: Poisson, below 1: burstier)
    ramp_up_seconds: float = 0.0  # the rate rises linearly from 0 to its target over this long
    trace: str | None = None  # a Mooncake JSON-lines trace replayed as the sweep's one open-loop run
    trace_speed: float = 1.0  # 2: the trace's gaps halved
    # The server's view (issue 14): its /metrics scraped while the benchmark runs (servermetrics/).
    server_metrics: tuple[str, ...] = ("auto",)  # auto (the target's /metrics), off, or URLs
    server_metrics_interval: float = 1.0  # seconds between scrapes
    server_metrics_include: str | None = None  # a regex: unknown metrics kept raw when their name matches
    image_format: str = "jpeg"  # image-text-to-text: how the images are encoded (jpeg or png)
    results_db: str | None = None  # --results-db: also write results to this database (database/, issue 18)
    results_db_requests: str = "sample"  # none | sample | all request records in it
    alerts: object = None  # alerts.AlertSettings: --alert rules and the notifiers (None: no rule, no webhook)
    streaming_redis: object | None = None  # fanout.RedisSettings: also publish live events to Redis (docs/redis.md)
    live_interval: float = 0.25
    drain_timeout: float | None = None
    command: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        spec = TASKS.get(self.task)
        if spec is not None:  # an unknown task keeps empty lists; validate names the task
            self.traffic_scenarios = self.traffic_scenarios or [parse_scenario(spec.default_scenario)]
            self.concurrencies = self.concurrencies or ([1] if spec.batched else list(DEFAULT_CONCURRENCIES))
            self.batch_sizes = self.batch_sizes or (list(DEFAULT_BATCH_SIZES) if spec.batched else [])
        if self.trace:  # the trace is the scenario, and --max-concurrency (the in-flight cap) its one load
            self.traffic_scenarios = [TRACE_SCENARIO]
            self.concurrencies = [self.max_concurrency]

    @property
    def sent_model(self) -> str:
        """The model name sent to the server (the embedded simulator's own name when nothing else says)."""
        return self.api_model_name or self.model or EMBEDDED_MODEL

    @property
    def model_label(self) -> str:
        """The model named in folder names, metadata and the page: --model, else the model actually sent."""
        return self.model or self.sent_model

    @property
    def shown_api_base(self) -> str | None:
        """--api-base with its credentials hidden, for everything a person or a file sees."""
        return redact_url(self.api_base) if self.api_base else None

    @property
    def max_time_seconds(self) -> float:
        """The time limit of one run in seconds."""
        return self.max_time_per_run * 60.0

    def validate(self) -> BenchmarkConfig:
        """Raise ConfigError naming the first bad setting; return self when all are good."""
        checks = [
            (self.api_base is None or api_base_problem(self.api_base) is None,
             f"--api-base {redact_url(self.api_base or '')!r}: {api_base_problem(self.api_base or '')}; "
             "give a URL like http://localhost:8000"),
            (self.task in TASKS, f"--task {self.task!r} is not supported; use one of: {', '.join(TASKS)}"),
            (self.api_backend in BACKENDS, f"--api-backend {self.api_backend!r} is unknown; use one of: {', '.join(BACKENDS)}"),
            (self.endpoint in ENDPOINTS, f"--endpoint {self.endpoint!r} is unknown; use chat or completions"),
            (bool(self.traffic_scenarios), "--traffic-scenario: give at least one scenario, e.g. D(100,100)"),
            (bool(self.concurrencies) and all(c > 0 for c in self.concurrencies),
             "--num-concurrency must be positive integers"),
            (self.max_time_per_run > 0, "--max-time-per-run must be positive (minutes)"),
            (self.max_time_per_run <= MAX_TIME_MINUTES,
             f"--max-time-per-run must be at most {MAX_TIME_MINUTES:g} minutes (a week); a run needs a time limit"),
            (self.max_requests_per_run is None or self.max_requests_per_run > 0, "--max-requests-per-run must be positive"),
            (self.max_requests_per_run is None or self.max_requests_per_run <= MAX_REQUESTS_PER_RUN,
             f"--max-requests-per-run must be at most {MAX_REQUESTS_PER_RUN:,}"),
            (0 <= self.warmup_ratio < 1 and 0 <= self.cooldown_ratio < 1 and self.warmup_ratio + self.cooldown_ratio < 1,
             "--warmup-ratio and --cooldown-ratio must be in [0, 1) and sum to less than 1"),
            (0 < self.request_timeout <= MAX_REQUEST_TIMEOUT,
             f"--request-timeout must be positive and at most {MAX_REQUEST_TIMEOUT:g} seconds (a day)"),
            (self.spawn_rate is None or 0 < self.spawn_rate < math.inf,
             "--spawn-rate must be a positive number of users per second (omit it to start all users at once)"),
            (0 <= self.num_workers <= MAX_WORKERS,
             f"--num-workers must be 0 (users in this process) or a number of processes up to {MAX_WORKERS}"),
            (port_problem("--master-port", self.master_port) is None, port_problem("--master-port", self.master_port)),
            (self.metrics_time_unit in ("s", "ms"), "--metrics-time-unit must be s or ms"),
            (all(0 < r < math.inf for r in self.request_rates),
             "--request-rate must be positive and finite (requests per second)"),
            (self.max_concurrency > 0, "--max-concurrency must be positive"),
            (self.arrival in ("poisson", "constant"), "--arrival must be poisson or constant"),
            (port_problem("--streaming-port", self.streaming_port) is None, port_problem("--streaming-port", self.streaming_port)),
            (not self.keep_serving or self.enable_streaming, "--keep-serving needs --enable-streaming"),
            (self.seed is None or 0 <= self.seed <= MAX_SEED, f"--seed must be an integer from 0 to {MAX_SEED}"),
            (self.server_gpu_count is None or 0 <= self.server_gpu_count <= MAX_LABEL_COUNT,
             f"--server-gpu-count must be between 0 and {MAX_LABEL_COUNT:,}"),
            (self.experiment_folder_name is None or folder_name_problem(self.experiment_folder_name) is None,
             f"--experiment-folder-name {self.experiment_folder_name!r} "
             f"{folder_name_problem(self.experiment_folder_name or 'x')}; give a plain name, it goes inside "
             "--experiment-base-dir"),
        ]
        # The api_base and task checks first: the task's own checks need a known task.
        all_checks = (checks[:2] + self._task_checks() + checks[2:] + self.workload_checks()
                      + self._multi_turn_checks() + self._arrival_checks() + server_metrics_checks(self)
                      + self._image_checks() + self.cluster.checks(self.num_workers))
        for ok, message in all_checks + search_checks(self):
            if not ok:
                raise ConfigError(message)
        problem = open_files_problem(self.connections_per_process)
        if problem:
            raise ConfigError(f"{self.load_option} {max(self.concurrencies_planned)} {problem}")
        return self

    @property
    def task_spec(self) -> TaskSpec:
        """The registered task (validate refuses unknown ones first)."""
        return TASKS[self.task]

    def _task_checks(self) -> list[tuple[bool, str]]:
        """The task's checks (its scenarios, --batch-size and what batched tasks do not combine with yet)."""
        spec = TASKS.get(self.task)
        if spec is None:
            return []
        problems = [spec.scenario_problem(s) for s in self.traffic_scenarios]
        batched = [(option, given) for option, given in (
            ("--request-rate", bool(self.request_rates)), ("--search", bool(self.search)),
            ("--multi-turn/--turns", self.conversational), ("--trace", bool(self.trace)),
            ("--num-workers", bool(self.num_workers)), ("--dataset-path/--dataset-config", self.dataset is not None),
            ("--prefix-len/--prefix-ratio", self.prefix_len is not None or self.prefix_ratio is not None))]
        return [(problem is None, problem or "") for problem in problems] + [
            (spec.batched or not self.batch_sizes,
             f"--batch-size applies to the batched tasks (text-to-embeddings, text-to-rerank); drop it for --task "
             f"{self.task}"),
            (all(1 <= b <= MAX_BATCH_SIZE for b in self.batch_sizes),
             f"--batch-size must be from 1 to {MAX_BATCH_SIZE:,} inputs per request"),
            (not spec.batched or len(self.concurrencies) == 1,
             f"--task {self.task} sweeps --batch-size; give one --num-concurrency (users sending batches), not "
             f"{len(self.concurrencies)}"),
            (self.rerank_endpoint in RERANK_ENDPOINTS,
             f"--rerank-endpoint must be one of {', '.join(RERANK_ENDPOINTS)}"),
            *[(not spec.batched or not given, f"--task {self.task} does not combine with {option} yet")
              for option, given in batched],
        ]

    @property
    def conversational(self) -> bool:
        """True when users hold conversations (--multi-turn or --turns above 1)."""
        return self.multi_turn or self.turns > 1

    def _multi_turn_checks(self) -> list[tuple[bool, str]]:
        """The multi-turn settings' checks: (ok, message) like validate's."""
        option = "--multi-turn" if self.multi_turn else f"--turns {self.turns}"
        return [
            (not (self.multi_turn and self.turns > 1),
             "--multi-turn replays a dataset's conversations and --turns builds synthetic ones; give only one"),
            (1 <= self.turns <= MAX_TURNS, f"--turns must be an integer from 1 to {MAX_TURNS}"),
            (0 <= self.think_time <= MAX_REQUEST_TIMEOUT, "--think-time must be 0 or more seconds (at most a day)"),
            (not self.think_time or self.conversational, "--think-time needs --multi-turn or --turns N"),
            (not self.conversational or self.endpoint == "chat",
             f"{option} needs --endpoint chat: the completions endpoint has no message history"),
            (not self.conversational or not self.request_rates,
             f"{option} runs closed loop (each turn follows its answer); drop --request-rate"),
        ]

    def _image_checks(self) -> list[tuple[bool, str]]:
        """The image-text-to-text checks beyond its scenarios (the task registry checks those): what it cannot be
        combined with, and Pillow."""
        image_task = self.task == IMAGE_TASK
        image_column = self.dataset is not None and self.dataset.image_column is not None
        missing = pillow_problem() if image_task else None  # Pillow is imported only when images are asked for
        return [
            (self.image_format in IMAGE_FORMATS, f"--image-format must be one of: {', '.join(IMAGE_FORMATS)}"),
            (not image_column or image_task, f"--dataset-image-column needs --task {IMAGE_TASK}"),
            (not image_task or self.endpoint == "chat", f"--task {IMAGE_TASK} needs --endpoint chat (images travel "
                                                         "as chat content parts)"),
            (not image_task or not (self.conversational or self.trace or self.prefix_len or self.prefix_ratio),
             f"--task {IMAGE_TASK} sends single requests of text and images; drop --multi-turn/--turns, --trace "
             "and --prefix-len/--prefix-ratio"),
            (missing is None, missing),
        ]

    def _arrival_checks(self) -> list[tuple[bool, str]]:
        """The arrival-shape and trace settings' checks: (ok, message) like validate's."""
        shaped = [option for option, given in (("--burstiness", self.burstiness is not None),
                                               ("--ramp-up-seconds", self.ramp_up_seconds != 0)) if given]
        return [
            (self.burstiness is None or 0 < self.burstiness < math.inf,
             "--burstiness must be a positive number (the gamma shape of the gaps: 1 is Poisson, below 1 burstier)"),
            (0 <= self.ramp_up_seconds <= MAX_TIME_MINUTES * 60,
             f"--ramp-up-seconds must be 0 or more seconds (at most {MAX_TIME_MINUTES * 60:g}, a week)"),
            (not shaped or bool(self.request_rates) or bool(self.trace),
             f"{' and '.join(shaped)} shape open-loop arrivals; give --request-rate (closed loop sends back to back)"),
            (not shaped or not self.trace, f"{' and '.join(shaped)} shape a rate's arrivals; a --trace brings its "
                                           "own send times (use --trace-speed to replay it faster)"),
            (self.burstiness is None or self.arrival == "poisson",
             "--burstiness draws gamma-distributed gaps and --arrival constant evenly spaced ones; give only one"),
            (0 < self.trace_speed < math.inf, "--trace-speed must be a positive number (2 replays twice as fast)"),
            (self.trace_speed == 1 or bool(self.trace), "--trace-speed needs --trace"),
            (not self.trace or not self.request_rates,
             "--trace sends each request at its timestamp; drop --request-rate"),
            (not self.trace or not self.conversational,
             "--trace replays single requests; drop --multi-turn/--turns"),
            (not self.trace or (self.prefix_len is None and self.prefix_ratio is None),
             "--trace shares prefixes through its hash_ids; drop --prefix-len/--prefix-ratio"),
            (not self.trace or not self.num_workers, "--trace replays in one process; drop --num-workers/--distributed"),
        ]

    def warnings(self) -> list[str]:
        """Settings that are valid but probably not what was meant, one line each."""
        found = [f"--traffic-scenario {s.text} asks for {sum(s.expected_tokens):,.0f} tokens per request on average; "
                f"few models accept more than {LONG_CONTEXT_TOKENS:,}, and each prompt is built in memory"
                for s in self.traffic_scenarios if sum(s.expected_tokens) > LONG_CONTEXT_TOKENS] + [
                f"--traffic-scenario {s.text} draws prompts shorter than the {prefix_tokens(s, self.prefix_len, self.prefix_ratio)}"
                f"-token shared prefix; those prompts are the prefix's first tokens only"
                for s in self.traffic_scenarios if s.kind in ("N", "U")
                and shortest_likely_input(s) < (prefix_tokens(s, self.prefix_len, self.prefix_ratio) or 0)]
        if self.request_rates and self.ramp_up_seconds >= self.max_time_seconds:
            found.append(f"--ramp-up-seconds {self.ramp_up_seconds:g} is not shorter than --max-time-per-run "
                         f"({self.max_time_seconds:g} s): each run ends before its rate reaches the target")
        return found

    def workload_checks(self) -> list[tuple[bool, str]]:
        """The dataset and shared-prefix settings' checks, as (ok, message) pairs."""
        scenarios = self.traffic_scenarios
        return [
            (self.dataset is not None or all(s.kind != DATASET for s in scenarios),
             "--traffic-scenario dataset needs a dataset: give --dataset-path or --dataset-config"),
            (self.prefix_len is None or self.prefix_ratio is None,
             "--prefix-len and --prefix-ratio exclude each other: give the prefix in tokens or as a share"),
            (self.prefix_len is None or self.prefix_len >= 1, "--prefix-len must be a positive number of tokens"),
            (self.prefix_ratio is None or 0 < self.prefix_ratio < 1,
             "--prefix-ratio must be between 0 and 1 (exclusive), e.g. 0.5 for half of each prompt"),
            (self.prefix_ratio is None or all(s.kind != DATASET for s in scenarios),
             "--prefix-ratio needs D, N or U scenarios (dataset prompts have no set length); use --prefix-len"),
            (1 <= self.prefix_groups <= MAX_PREFIX_GROUPS, f"--prefix-groups must be from 1 to {MAX_PREFIX_GROUPS:,}"),
            *[(self.prefix_len is None or self.prefix_len <= s.params[0],
               f"--prefix-len {self.prefix_len} is longer than the {s.params[0]}-token input of --traffic-scenario "
               f"{s.text}; use a shorter prefix or a longer input") for s in scenarios if s.kind == "D"],
        ]

    @property
    def concurrencies_planned(self) -> list[int]:
        """The user counts of the sweep's runs (--max-concurrency in open loop)."""
        return [self.max_concurrency] if self.request_rates or self.search == MAX_CONCURRENCY else self.concurrencies

    @property
    def load_option(self) -> str:
        """The option that sets the number of users, for messages."""
        return ("--max-concurrency" if self.request_rates or self.trace or self.search == MAX_CONCURRENCY
                else "--num-concurrency")

    @property
    def connections_per_process(self) -> int:
        """Open connections in the busiest process during the busiest run: one per user, and with the embedded
        simulator (always in this process) its end of every user's connection too."""
        users = max(self.concurrencies_planned)
        simulator_ends = users if self.api_base is None else 0
        if self.num_workers:
            return max(-(-users // self.num_workers), simulator_ends)
        return users + simulator_ends

    def redacted_command(self) -> list[str]:
        """The command line with secrets hidden and URLs redacted, for metadata."""
        return redacted_command(self.command)


MAX_RATE, MAX_CONCURRENCY = "max-rate", "max-concurrency"
SEARCH_KINDS = (MAX_RATE, MAX_CONCURRENCY)
MAX_SEARCH_STEPS = 100
MAX_REPEATS = 1000


def search_checks(config: BenchmarkConfig) -> list[tuple[bool, str]]:
    """The capacity search's and the repeats' checks, as (ok, message) pairs like validate's."""
    search = config.search
    return [
        (search is None or search in SEARCH_KINDS, f"--search {search!r} is unknown; use {' or '.join(SEARCH_KINDS)}"),
        (0 < config.slo_attainment <= 1, "--slo-attainment must be a share above 0 and at most 1, e.g. 0.9"),
        (0 < config.search_tolerance < 1, "--search-tolerance must be a share between 0 and 1, e.g. 0.05 for ±5%"),
        (1 <= config.search_max_steps <= MAX_SEARCH_STEPS, f"--search-max-steps must be from 1 to {MAX_SEARCH_STEPS}"),
        (1 <= config.repeats <= MAX_REPEATS, f"--repeats must be from 1 to {MAX_REPEATS}"),
        (search is None or len(config.traffic_scenarios) == 1,
         f"--search finds the capacity of one traffic scenario; give one --traffic-scenario, not "
         f"{len(config.traffic_scenarios)}"),
        (search != MAX_RATE or bool(config.request_rates),
         "--search max-rate needs a starting --request-rate"),
        (search != MAX_CONCURRENCY or not config.request_rates,
         "--search max-concurrency is closed loop; drop --request-rate (or use --search max-rate)"),
        (search is None or config.repeats == 1, "--repeats does not combine with --search; give one of them"),
        (search != MAX_CONCURRENCY or (config.concurrencies or [1])[0] <= config.max_concurrency,
         f"--search max-concurrency starts at --num-concurrency {(config.concurrencies or [1])[0]}, above its ceiling "
         f"--max-concurrency {config.max_concurrency}"),
    ]


# File descriptors a process keeps for itself (listening sockets, log files, the tokenizer, Python's own).
FD_HEADROOM = 64


def api_base_problem(url: str) -> str | None:
    """What makes `url` unusable as --api-base (scheme, host, port), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        return str(exc).replace("Port", "port")
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "no host name"
    if port == 0:
        return "port 0 is not a server's port"
    return None


def pillow_problem() -> str | None:
    """The one-line message naming the images extra when Pillow is not installed, else None."""
    try:
        require_pillow()
    except ImagesUnavailable as exc:
        return str(exc)
    return None


def port_problem(option: str, port: int) -> str | None:
    """A one-line message when `port` is not a TCP port to listen on (0 picks a free one), or None."""
    return None if 0 <= port <= 65535 else f"{option} must be between 0 and 65535 (0 picks a free port), got {port}"


def folder_name_problem(name: str) -> str | None:
    """Why `name` would not be a folder directly inside the base directory, or None."""
    if name in ("", ".", ".."):
        return "is not a folder name"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return "must not be an absolute path"
    if any(sep in name for sep in ("/", "\\", "\0")):
        return "must not contain path separators"
    return None


def open_files_problem(connections: int) -> str | None:
    """A message when `connections` would exceed this process's open-file limit (ulimit -n), or None."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections + FD_HEADROOM
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return None
    if hard == resource.RLIM_INFINITY or needed <= hard:
        fix = f"raise the limit first (ulimit -n {needed}) or use fewer users"
    else:
        fix = f"use fewer users, or raise the hard limit ({hard}) system-wide"
    return f"needs about {needed} open files (one per connection), but this process may open {soft}; {fix}"


def server_metrics_checks(config: BenchmarkConfig) -> list[tuple[bool, str]]:
    """The --server-metrics settings' checks: (ok, message) like validate's."""
    specs = config.server_metrics
    urls = [spec for spec in specs if spec not in ("auto", "off")]
    return [
        (not ("off" in specs and len(specs) > 1), "--server-metrics off scrapes nothing; give it alone"),
        (all(api_base_problem(url) is None for url in urls),
         "--server-metrics takes auto, off or a URL like http://gpu-node:9400/metrics, got "
         + ", ".join(repr(redact_url(u)) for u in urls if api_base_problem(u))),
        (0.05 <= config.server_metrics_interval <= 3600, "--server-metrics-interval must be 0.05 to 3600 seconds"),
        (config.server_metrics_include is None or regex_problem(config.server_metrics_include) is None,
         f"--server-metrics-include {config.server_metrics_include!r} is not a regular expression "
         f"({regex_problem(config.server_metrics_include or '')})"),
    ]


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` is not a regular expression, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None
