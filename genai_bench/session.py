"""The composition root: one benchmark session owns the target, collector, runner, results writer and dashboard."""

from __future__ import annotations

import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter

import gevent

from genai_bench import __version__
from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.dashboard import Dashboard, NoOpDashboard
from genai_bench.metrics import MetricsCollector
from genai_bench.results import ExperimentWriter, default_folder_name
from genai_bench.runner import RunResult, SweepRunner
from genai_bench.sampling import PromptSampler
from genai_bench.simulator import SimulatorConfig, SimulatorServer
from genai_bench.tokenizer import load_tokenizer

# The embedded simulator answers like a small, quick model so that the default sweep ends in about a minute.
EMBEDDED_SIMULATOR = SimulatorConfig(ttft_ms=40.0, prefill_ms_per_token=0.05, itl_ms=8.0, jitter_ms=1.0)


@dataclass
class SessionOutcome:
    """What a finished (or interrupted) session produced."""

    results: list[RunResult]
    folder: Path
    interrupted: bool


def check_reachable(target: Target, timeout: float = 5.0) -> None:
    """Raise ConfigError when nothing answers HTTP at the target's address."""
    client = target.new_http_client()
    client.connection_timeout = timeout
    try:
        with gevent.Timeout(timeout):
            client.get(target.path.rsplit("/", 2)[0] + "/models", headers=target.headers()).release()
    except (Exception, gevent.Timeout) as exc:
        raise ConfigError(f"--api-base {target.api_base} is unreachable ({type(exc).__name__}: {exc}); is the server running?") from None
    finally:
        client.close()


class BenchmarkSession:
    """Builds and owns every part of one benchmark, and runs it."""

    def __init__(self, config: BenchmarkConfig, dashboard: Dashboard | None = None) -> None:
        self.config = config.validate()
        self.dashboard = dashboard or NoOpDashboard()
        self.tokenizer = load_tokenizer(config.model_tokenizer)
        self.simulator: SimulatorServer | None = None
        self.collector = MetricsCollector()
        self.started_at = time.time()
        # Maps perf_counter readings onto the wall clock for the results files.
        self.clock_offset = self.started_at - perf_counter()
        folder_name = config.experiment_folder_name or default_folder_name(
            config.api_backend, config.task, config.model, self.started_at)
        self.folder = Path(config.experiment_base_dir) / folder_name
        self.writer = ExperimentWriter(self.folder, config.task, config.max_time_seconds,
                                       config.metrics_time_unit, self.clock_offset)
        self.runner: SweepRunner | None = None
        self.target: Target | None = None

    def start_target(self) -> Target:
        """Start the embedded simulator when no server was given, check the server otherwise (once)."""
        if self.target is not None:
            return self.target
        config = self.config
        api_base = config.api_base
        if api_base is None:
            simulator_config = SimulatorConfig(**{**asdict(EMBEDDED_SIMULATOR), "model": config.sent_model, "seed": config.seed})
            self.simulator = SimulatorServer(simulator_config, tokenizer=self.tokenizer).start()
            api_base = self.simulator.url
        target = Target(api_base=api_base, model=config.sent_model, api_key=config.api_key, endpoint=config.endpoint,
                        backend=config.api_backend, additional_params=config.additional_request_params,
                        request_timeout=config.request_timeout)
        if self.simulator is None:
            check_reachable(target)
        self.target = target
        return target

    def run(self) -> SessionOutcome:
        """Run the sweep and write the experiment folder; Ctrl-C or SIGTERM keeps what was measured."""
        target = self.start_target()
        sampler = PromptSampler(self.tokenizer, seed=self.config.seed)
        self.runner = SweepRunner(self.config, target, self.tokenizer, sampler, self.collector, self.dashboard,
                                  on_run_complete=self.writer.write_run)
        self.writer.write_metadata(self.metadata(target, end_time=None, interrupted=False))
        handlers = [gevent.signal_handler(sig, self.runner.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)]
        self.dashboard.start()
        try:
            results = self.runner.run()
        finally:
            for handler in handlers:
                handler.cancel()
            self.writer.write_metadata(self.metadata(target, end_time=time.time(), interrupted=self.runner.stopped))
            self.dashboard.stop()
            if self.simulator is not None:
                self.simulator.stop()
        return SessionOutcome(results, self.folder, self.runner.stopped)

    def metadata(self, target: Target, end_time: float | None, interrupted: bool) -> dict:
        """experiment_metadata.json: the command (secrets redacted), labels, limits and times."""
        config = self.config
        return {
            "cmd": " ".join(config.redacted_command()),
            "version": __version__,
            "api_backend": config.api_backend,
            "api_base": target.api_base,
            "embedded_simulator": self.simulator is not None,
            "model": config.model,
            "api_model_name": config.sent_model,
            "model_tokenizer": self.tokenizer.name,
            "task": config.task,
            "endpoint": config.endpoint,
            "traffic_scenario": [s.text for s in config.traffic_scenarios],
            "num_concurrency": config.concurrencies,
            "max_time_per_run": config.max_time_per_run,
            "max_requests_per_run": config.max_requests_per_run,
            "warmup_ratio": config.warmup_ratio,
            "cooldown_ratio": config.cooldown_ratio,
            "additional_request_params": config.additional_request_params,
            "request_timeout": config.request_timeout,
            "seed": config.seed,
            "metrics_time_unit": config.metrics_time_unit,
            "server_engine": config.server_engine,
            "server_version": config.server_version,
            "server_gpu_type": config.server_gpu_type,
            "server_gpu_count": config.server_gpu_count,
            "start_time": self.started_at,
            "end_time": end_time,
            "partial": interrupted or end_time is None,
            "run_files": [p.name for p in self.writer.run_files],
        }
