"""The composition root: one benchmark session owns the target, collector, runner, event bus, writers and dashboards."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from time import perf_counter

import gevent
import orjson

from genai_bench import __version__, live_events
from genai_bench.alerts import NOTIFY_NONE, AlertMonitor, AlertSettings
from genai_bench.arrivals import ArrivalShape
from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.redaction import redact_url
from genai_bench.conversations import multi_turn_of, multi_turn_workload
from genai_bench.dashboard import Dashboard, DashboardListener
from genai_bench.database.listener import ResultsDatabaseListener
from genai_bench.database.settings import ResultsDbSettings
from genai_bench.events import EventBus
from genai_bench.exporter import LiveMetricsExporter
from genai_bench.fanout.publisher import publisher_for
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import search as search_data
from genai_bench.metrics import MetricsCollector
from genai_bench.notifiers import alert_message, end_message, notifications_of, run_summary
from genai_bench.publisher import LivePublisher
from genai_bench.results import (EVENTS_FILE, EventLogWriter, ExperimentLibrary, ExperimentNotFound, ExperimentWriter,
                                 default_folder_name, load_experiment)
from genai_bench.results.formats import seconds_value
from genai_bench.planner import RunPlanner, SweepPlan
from genai_bench.runner import RunResult, SweepRunner
from genai_bench.search import CapacitySearch, Objective, objective_of
from genai_bench.servermetrics import ServerMetrics
from genai_bench.simulator import SimulatorConfig, SimulatorServer
from genai_bench.sinks import SinkContext, attach_sinks, close_sinks
from genai_bench.tokenizer import load_tokenizer
from genai_bench.web import create_app
from genai_bench.web.server import DashboardServer
from genai_bench.workload import Workload, WorkloadSpec, workload_description

# How long the dashboard stays up after the benchmark when a page is connected (without --keep-serving).
PAGE_GRACE_SECONDS = 2.0
# The embedded simulator answers like a small, quick model so that the default sweep ends in about a minute.
EMBEDDED_SIMULATOR = SimulatorConfig(ttft_ms=40.0, prefill_ms_per_token=0.05, itl_ms=8.0, jitter_ms=1.0)


@dataclass
class SessionOutcome:
    """What a finished (or interrupted) session produced."""

    results: list[RunResult]
    folder: Path
    interrupted: bool


def check_reachable(target: Target, timeout: float = 5.0) -> list[str]:
    """Raise ConfigError when nothing answers HTTP at the target's address; return the model ids its /models lists."""
    client = target.new_http_client()
    try:
        with gevent.Timeout(timeout):
            response = client.get(target.base_path + "/models", headers=target.headers())
            try:
                body = response.read() if response.status_code == 200 else b""
            finally:
                response.release()
    except (Exception, gevent.Timeout) as exc:
        raise ConfigError(f"--api-base {redact_url(target.api_base)} is unreachable ({type(exc).__name__}: {exc}); "
                          "is the server running?") from None
    finally:
        client.close()
    return listed_models(body)


def listed_models(body: bytes) -> list[str]:
    """The model ids of an OpenAI /v1/models answer; none when it is not one."""
    try:
        entries = orjson.loads(body)["data"]
        return [str(entry["id"]) for entry in entries if isinstance(entry, dict) and entry.get("id")]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []


def target_of(config: BenchmarkConfig, api_base: str) -> Target:
    """Where and how the benchmark sends its requests."""
    return Target(api_base=api_base, model=config.sent_model, api_key=config.api_key, endpoint=config.endpoint,
                  backend=config.api_backend, additional_params=config.additional_request_params,
                  request_timeout=config.request_timeout)


def with_served_model(config: BenchmarkConfig) -> BenchmarkConfig:
    """The config naming the model it will send: given ones as they are, else the first one the server lists."""
    if config.api_base is None or config.model or config.api_model_name:
        return config
    models = check_reachable(target_of(config, config.api_base))
    if not models:
        raise ConfigError(f"--api-base {config.shown_api_base} lists no model at /v1/models; "
                          "name the model to send with --api-model-name")
    return replace(config, api_model_name=models[0])


class BenchmarkSession:
    """Builds and owns every part of one benchmark (runner, collector, hooks, bus, writers, views), and runs it.

    The runner fires the sweep's hooks; the experiment writer, the bus publisher and the terminal listen.
    """

    def __init__(self, config: BenchmarkConfig, terminal: Dashboard | None = None, bus: EventBus | None = None,
                 objective: Objective | None = None) -> None:
        config.validate()
        self.config = config = with_served_model(config)
        self.tokenizer = load_tokenizer(config.model_tokenizer)
        # A bad dataset (or one that cannot hold conversations) is a one-line error here, before anything starts.
        self.workload = Workload.load(self.tokenizer, WorkloadSpec.of(config))
        self.multi_turn = multi_turn_of(config, self.workload.dataset)
        self.workload_description = {**workload_description(config, self.workload.dataset),
                                     **multi_turn_workload(self.multi_turn)}
        self.started_at = time.time()
        # Maps perf_counter readings onto the wall clock for the results files.
        self.clock_offset = self.started_at - perf_counter()
        folder_name = config.experiment_folder_name or default_folder_name(
            config.api_backend, config.task, config.model_label, self.started_at)
        self.folder = Path(config.experiment_base_dir) / folder_name
        self.writer = ExperimentWriter(self.folder, config.metrics_time_unit, self.clock_offset)
        self.hooks = SweepHooks()
        self.hooks.run_finished.add_listener(lambda result, **_: self.writer.write_run(result))  # files first
        # --results-db: each run also goes to the database once its file is written (database/listener.py).
        self.results_db = ResultsDatabaseListener.of(
            ResultsDbSettings.of(config), self.folder, self.writer.run_files, lambda: self.metadata(end_time=None),
            lambda message, level: self.hooks.log.fire(message=message, level=level))
        if self.results_db is not None:
            self.results_db.attach(self.hooks)
        # A search without SLOs is refused here, before anything starts; `objective` lets a caller judge steps itself.
        self.planner: RunPlanner = (CapacitySearch(config, objective or objective_of(config), self.hooks)
                                    if config.search else SweepPlan(config))
        self.bus = bus or EventBus()  # a host (wsgi.py under gunicorn) passes the bus it serves
        self.publisher = LivePublisher(self.bus, {"model": config.model_label, "experiment_folder": str(self.folder),
                                                 "workload": self.workload_description, "slo": config.slo or None,
                                                 "task": config.task_spec.to_dict(), "stopped_by_alert": None})
        self.publisher.attach(self.hooks)
        if terminal is not None:
            DashboardListener(terminal).attach(self.hooks)
        # /metrics for Prometheus when a page is served, by this session or by the host that passed its bus.
        self.exporter = LiveMetricsExporter(self.folder.name, config.slo) if config.enable_streaming or bus else None
        if self.exporter is not None:
            self.exporter.attach(self.hooks)
        self._attach_alerts(config.alerts or AlertSettings())
        self.event_log = EventLogWriter(self.folder / EVENTS_FILE)
        self.bus.add_listener(self.event_log.write)
        # Plugins' event sinks (sinks.py): after the event log, so the files are written first.
        self.sinks = attach_sinks(self.bus, SinkContext(self.folder, {
            "model": config.model_label, "task": config.task, "api_base": config.shown_api_base}))
        self.redis = publisher_for(config.streaming_redis, self.folder, config)  # --streaming-redis-url
        if self.redis is not None:
            self.bus.add_listener(self.redis.offer)
        self.server: DashboardServer | None = None
        if config.enable_streaming and bus is None:
            app = create_app(self.bus, ExperimentLibrary(live_folder=self.folder), token=config.streaming_token,
                             allowed_hosts=(config.streaming_host, *config.streaming_allowed_hosts),
                             static_url=config.static_url, metrics=self.exporter.registry)
            self.server = DashboardServer(app, config.streaming_host, config.streaming_port)
        self.collector = MetricsCollector(slo=config.slo)
        self.simulator: SimulatorServer | None = None
        self.target: Target | None = None
        self.runner: SweepRunner | None = None
        self.server_metrics: ServerMetrics | None = None  # the servers' /metrics scraper, once the target is known
        self.cluster = None  # distributed.LocustCluster with --num-workers or --distributed
        self.cluster_view: dict | None = None  # its metadata (kept once the cluster is closed)
        self.announce: Callable[[str], None] = lambda line: None  # the CLI prints where the master waits, who joins
        self.failed = False  # the sweep raised: what was written is partial

    def _attach_alerts(self, settings: AlertSettings) -> None:
        """The alert rules' monitor, the writer keeping their events, and the notifiers (webhooks, plugins)."""
        self.alert_settings = settings
        self.stopped_by_alert: str | None = None  # the rule that ended the benchmark (--alert-action stop)
        self.alert_monitor = AlertMonitor(settings, self.hooks, self._stop_by_alert).attach(self.hooks)
        self.hooks.alert.add_listener(lambda alert: self.writer.add_alert(live_events.alert(alert)))
        self.notifications = notifications_of(settings, lambda message, level: self.hooks.log.fire(
            message=message, level=level))
        if self.notifications:
            self.hooks.alert.add_listener(
                lambda alert: self.notifications.post(alert_message(live_events.alert(alert))))

    def _stop_by_alert(self, alert: live_events.AlertChange) -> None:
        """--alert-action stop: end the benchmark the way Ctrl-C does, marked with the rule that fired."""
        self.stopped_by_alert = alert.rule
        self.publisher.context["stopped_by_alert"] = alert.rule
        self.hooks.log.fire(message=f"Stopping the benchmark: alert {alert.rule} fired (--alert-action stop)",
                            level="warning")
        self.stop()

    def _notify_end(self, final_status: str, error: str | None) -> None:
        """Announce the benchmark's end to the notifiers, with its summary and where its results are."""
        if not self.notifications or self.alert_settings.notify == NOTIFY_NONE:
            return
        results = self.runner.results if self.runner else []
        self.notifications.post(end_message(final_status, self.config.model_label, run_summary(results),
                                            self.dashboard_url or str(self.folder), str(self.folder), error,
                                            self.stopped_by_alert))

    @property
    def dashboard_url(self) -> str | None:
        """The live page's address when streaming."""
        return self.server.url if self.server else None

    def start(self) -> Target:
        """Bind the dashboard (a busy port fails here), then start the simulator or check the server; once."""
        if self.target is not None:
            return self.target
        if self.server is not None:
            try:
                self.server.start()
            except OSError as exc:
                raise ConfigError(f"--streaming-port {self.config.streaming_port} on {self.config.streaming_host} "
                                  f"is not available ({exc.strerror or exc}); pick another port or 0 for a free one") from None
        self.target = self._start_target()
        self.publisher.context["api_base"] = redact_url(self.target.api_base)
        config = self.config
        self.server_metrics = ServerMetrics.of(config.server_metrics, self.target.api_base, self.target.headers(),
                                               self.hooks, config.server_metrics_interval,
                                               config.server_metrics_include).probe()
        if self.config.num_workers:
            self.cluster = self._start_cluster(self.target)  # workers build their own workload
        else:
            self.workload.prepare(self.config.traffic_scenarios)  # corpus tokens, prefixes, dataset counts
        self._create_folder()  # last: a setting refused above leaves no folder behind
        for line in self.cluster.roster.joined if self.cluster else ():  # in the event log, now that it has a folder
            self.hooks.log.fire(message=line, level="info")
        return self.target

    def _start_cluster(self, target: Target):
        from genai_bench.distributed import LocustCluster, WorkerSettings

        settings = WorkerSettings.of(target, self.config.model_tokenizer, self.config.seed, self.workload.spec,
                                     [s.text for s in self.config.traffic_scenarios], self.multi_turn)
        cluster = self.config.cluster
        return LocustCluster(settings, self.config.num_workers, self.config.master_port,
                             log_message=lambda message, level: self.hooks.log.fire(message=message, level=level),
                             arrival=ArrivalShape.of(self.config), bind_host=cluster.master_bind_host,
                             remote=cluster.distributed, join_timeout=cluster.expect_workers_max_wait,
                             announce=self.announce).start()

    def _create_folder(self) -> None:
        # Before the first run, so an unwritable place is a one-line error rather than a traceback after it.
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--experiment-base-dir {self.config.experiment_base_dir}: cannot create {self.folder} "
                              f"({exc.strerror or exc}); pick a writable directory") from None

    def _start_target(self) -> Target:
        config = self.config
        api_base = config.api_base
        if api_base is None:
            simulator_config = SimulatorConfig(**{**asdict(EMBEDDED_SIMULATOR), "model": config.sent_model, "seed": config.seed})
            self.simulator = SimulatorServer(simulator_config, tokenizer=self.tokenizer).start()
            api_base = self.simulator.url
        target = target_of(config, api_base)
        if self.simulator is None:
            check_reachable(target)
        return target

    def run(self, handle_signals: bool = True) -> SessionOutcome:
        """Run the sweep and write the experiment folder; Ctrl-C or SIGTERM keeps what was measured.

        A host that owns the process's signals (gunicorn) passes handle_signals=False and calls stop() itself.
        """
        target = self.start()
        self.runner = SweepRunner(self.config, target, self.tokenizer, self.workload, self.collector, self.hooks,
                                  engine=self.cluster, multi_turn=self.multi_turn, planner=self.planner,
                                  connections=self.server.connections if self.server else None,
                                  server_metrics=self.server_metrics)
        self.server_metrics.start()
        self.writer.write_metadata(self.metadata(end_time=None))
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
        handlers = [gevent.signal_handler(sig, self.stop) for sig in signals]
        final_status, error = "failed", None
        try:
            results = self.runner.run()
            final_status = "stopped" if self.runner.stopped else "completed"
        except BaseException as exc:
            self.failed = True
            error = f"{type(exc).__name__}: {exc}"
            self.runner.fire_status("failed", error_message=error)
            raise
        finally:
            for handler in handlers:
                handler.cancel()
            self.server_metrics.stop()
            self.alert_monitor.end()  # a rule still firing resolves ("benchmark ended") before the files close
            final_metadata = self.metadata(end_time=time.time())
            self.writer.write_metadata(final_metadata)
            self.publisher.benchmark_completed(final_status, len(self.runner.results), self._experiment_summary())
            self._notify_end(final_status, error)
            self._stop_cluster()
            if self.simulator is not None:
                self.simulator.stop()
                self.simulator = None
            if self.results_db is not None:
                self.results_db.finish(final_metadata)  # the final experiment row, then the queued writes (bounded)
        return SessionOutcome(results, self.folder, self.runner.stopped)

    @property
    def search_outcome(self) -> str | None:
        """A finished capacity search's outcome in one line (None without a search)."""
        if not isinstance(self.planner, CapacitySearch):
            return None
        return search_data(self.planner.progress)["summary"]

    def _experiment_summary(self) -> dict | None:
        """The finished experiment as the results API lists it."""
        try:
            return load_experiment(self.folder, live=True).summary()
        except ExperimentNotFound:
            return None

    def stop(self) -> None:
        """Stop issuing requests; the current run drains briefly and everything measured is written, marked partial."""
        if self.runner is not None:
            self.runner.request_stop()

    def serve_until_interrupted(self, announce: Callable[[], None] = lambda: None) -> None:
        """Keep the dashboard up after the benchmark (--keep-serving) until Ctrl-C or SIGTERM."""
        if self.server is not None:
            self.server.serve_until_signalled(announce)

    def close(self) -> None:
        """Stop the dashboard server and the simulator, close the event log."""
        if self.server is not None:
            if self.bus.subscribers:
                # Open pages fetch the final results when the benchmark completes: give them a moment.
                gevent.sleep(PAGE_GRACE_SECONDS)
            self.server.stop()
        self._stop_cluster()
        if self.simulator is not None:
            self.simulator.stop()
        close_sinks(self.sinks)  # each sink's queue is delivered first, within a bound
        self.notifications.close()  # what is queued (the end's notice) is delivered first, within a bound
        self.event_log.close()
        if self.redis is not None:
            self.redis.close()

    def _stop_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster_view = self.cluster.describe()
            self.cluster.close()
            self.cluster = None

    def metadata(self, end_time: float | None) -> dict:
        """experiment_metadata.json: the command (secrets redacted), labels, limits and times."""
        config = self.config
        interrupted = self.runner is not None and self.runner.stopped
        return {
            "cmd": " ".join(config.redacted_command()),
            "benchmark_version": __version__,
            "api_backend": config.api_backend,
            "api_base": redact_url(self.target.api_base) if self.target else config.shown_api_base,
            "embedded_simulator": config.api_base is None,
            "model": config.model_label,
            "api_model_name": config.sent_model,
            "server_model_tokenizer": self.tokenizer.name,
            "task": config.task,
            "task_metrics": list(config.task_spec.metrics),  # what the views show for this task's runs
            "endpoint": config.endpoint if not config.task_spec.batched else None,
            "iteration_type": "batch_size" if config.task_spec.batched else "num_concurrency",  # like upstream
            "batch_size": config.batch_sizes or None,
            "rerank_endpoint": config.rerank_endpoint if config.task == "text-to-rerank" else None,
            "traffic_scenario": [s.text for s in config.traffic_scenarios],
            "workload": self.workload_description,
            "slo": config.slo or None,  # targets in seconds by metric
            **self._loads(),
            "arrival": config.arrival if config.request_rates else None,
            "burstiness": config.burstiness,
            "ramp_up_seconds": config.ramp_up_seconds,
            "max_time_per_run_s": seconds_value(config.max_time_seconds),
            "max_requests_per_run": config.max_requests_per_run,
            "warmup_ratio": config.warmup_ratio,
            "cooldown_ratio": config.cooldown_ratio,
            "additional_request_params": config.additional_request_params,
            "request_timeout": config.request_timeout,
            "seed": config.seed,
            "num_workers": config.num_workers,
            # Workers (local or remote): host, clock offset against this host's, requests lost with a worker.
            "cluster": self.cluster.describe() if self.cluster else self.cluster_view,
            "metrics_time_unit": config.metrics_time_unit,
            "server_engine": config.server_engine,
            "server_version": config.server_version,
            "server_gpu_type": config.server_gpu_type,
            # A string, like upstream's ("8"), which its reader requires.
            "server_gpu_count": None if config.server_gpu_count is None else str(config.server_gpu_count),
            "experiment_folder_name": self.writer.folder.name,
            "start_time": self.started_at,
            "end_time": end_time,
            "partial": interrupted or self.failed or end_time is None,
            "client_saturated": any(r.statistics.client_saturated for r in self.runner.results) if self.runner else False,
            "run_files": [p.name for p in self.writer.run_files],
            "repeats": config.repeats,
            "stop_on_saturation": config.stop_on_saturation,
            "search": search_data(self.planner.progress) if isinstance(self.planner, CapacitySearch) else None,
            # The /metrics endpoints scraped (credentials hidden); [] when none answered or --server-metrics off.
            "server_metrics": [s.shown for s in self.server_metrics.sources] if self.server_metrics else [],
            # --alert: the rules, every alert event's data so far, and the rule that stopped the benchmark.
            "alert_rules": self.alert_settings.to_dict() if self.alert_settings.rules else None,
            "alerts": list(self.writer.alerts),
            "stopped_by_alert": self.stopped_by_alert,
        }

    def _loads(self) -> dict:
        """The metadata's loads: the sweep's, or for a search the ones its steps tried (so far)."""
        config = self.config
        if isinstance(self.planner, CapacitySearch):
            tried = sorted({step.load for step in self.planner.progress.steps})
            if config.request_rates:
                return {"num_concurrency": [config.max_concurrency], "request_rate": tried}
            return {"num_concurrency": [int(load) for load in tried], "request_rate": None}
        return {"num_concurrency": [config.max_concurrency] if config.request_rates else config.concurrencies,
                "request_rate": config.request_rates or None}
