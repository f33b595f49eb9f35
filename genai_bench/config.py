"""The settings of one benchmark, validated once so that every layer below can trust them."""

from __future__ import annotations

from dataclasses import dataclass, field

from genai_bench.scenarios import Scenario

SUPPORTED_TASKS = ("text-to-text",)
BACKENDS = ("openai", "vllm", "sglang")
ENDPOINTS = ("chat", "completions")
EMBEDDED_MODEL = "genai-bench-sim"


class ConfigError(ValueError):
    """A setting is invalid; the message is one line that says what to change."""


@dataclass
class BenchmarkConfig:
    """Everything `genai-bench benchmark` was asked to do."""

    api_base: str | None = None
    api_key: str = ""
    api_backend: str = "openai"
    model: str = EMBEDDED_MODEL
    api_model_name: str | None = None
    model_tokenizer: str | None = None
    task: str = "text-to-text"
    endpoint: str = "chat"
    traffic_scenarios: list[Scenario] = field(default_factory=list)
    concurrencies: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
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
    live_interval: float = 0.25
    drain_timeout: float | None = None
    command: list[str] = field(default_factory=list)

    @property
    def sent_model(self) -> str:
        """The model name sent to the server."""
        return self.api_model_name or self.model

    @property
    def max_time_seconds(self) -> float:
        """The time limit of one run in seconds."""
        return self.max_time_per_run * 60.0

    def validate(self) -> BenchmarkConfig:
        """Raise ConfigError naming the first bad setting; return self when all are good."""
        checks = [
            (self.task in SUPPORTED_TASKS, f"--task {self.task!r} is not supported; use one of: {', '.join(SUPPORTED_TASKS)}"),
            (self.api_backend in BACKENDS, f"--api-backend {self.api_backend!r} is unknown; use one of: {', '.join(BACKENDS)}"),
            (self.endpoint in ENDPOINTS, f"--endpoint {self.endpoint!r} is unknown; use chat or completions"),
            (bool(self.traffic_scenarios), "--traffic-scenario: give at least one scenario, e.g. D(100,100)"),
            (all(s.task_kind == "text" for s in self.traffic_scenarios),
             "--traffic-scenario: E(...) scenarios are for text-to-embeddings; use D, N or U for text-to-text"),
            (bool(self.concurrencies) and all(c > 0 for c in self.concurrencies),
             "--num-concurrency must be positive integers"),
            (self.max_time_per_run > 0, "--max-time-per-run must be positive (minutes)"),
            (self.max_requests_per_run is None or self.max_requests_per_run > 0, "--max-requests-per-run must be positive"),
            (0 <= self.warmup_ratio < 1 and 0 <= self.cooldown_ratio < 1 and self.warmup_ratio + self.cooldown_ratio < 1,
             "--warmup-ratio and --cooldown-ratio must be in [0, 1) and sum to less than 1"),
            (self.request_timeout > 0, "--request-timeout must be positive (seconds)"),
            (self.spawn_rate is None or self.spawn_rate > 0, "--spawn-rate must be positive"),
            (self.num_workers >= 0, "--num-workers must be 0 (users in this process) or a positive number of processes"),
            (0 <= self.master_port < 65536, "--master-port must be between 0 and 65535 (0 picks a free port)"),
            (self.metrics_time_unit in ("s", "ms"), "--metrics-time-unit must be s or ms"),
            (all(r > 0 for r in self.request_rates), "--request-rate must be positive (requests per second)"),
            (self.max_concurrency > 0, "--max-concurrency must be positive"),
            (self.arrival in ("poisson", "constant"), "--arrival must be poisson or constant"),
            (0 <= self.streaming_port < 65536, "--streaming-port must be between 0 and 65535"),
            (not self.keep_serving or self.enable_streaming, "--keep-serving needs --enable-streaming"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def redacted_command(self) -> list[str]:
        """The command line with the API key replaced, for metadata."""
        out, hide_next = [], False
        for arg in self.command:
            if hide_next:
                out.append("***")
                hide_next = False
            elif arg in ("--api-key", "--streaming-token"):
                out.append(arg)
                hide_next = True
            elif arg.startswith(("--api-key=", "--streaming-token=")):
                out.append(arg.split("=", 1)[0] + "=***")
            else:
                out.append(arg)
        return out
