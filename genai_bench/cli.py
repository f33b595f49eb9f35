"""The `genai-bench` command line: benchmark, simulate, serve, report, excel, plot."""

from __future__ import annotations

import dataclasses
import logging
import sys
import typing
from pathlib import Path
from typing import Any, Callable

import click

from genai_bench.config import ConfigError, port_problem
from genai_bench.database import commands as db_commands
from genai_bench.redaction import redact_url
from genai_bench.export.excel import excel_command
from genai_bench.export.folders import load_folders
from genai_bench.export.plot import plot_command
from genai_bench.options import ALLOWED_HOSTS_OPTION, STATIC_URL_OPTION, benchmark_options, build_config, split_values
from genai_bench.plugins_cli import plugins as plugins_command
from genai_bench.processes import freeze_long_lived_objects
from genai_bench.prompt_datasets import DatasetError
from genai_bench.scenarios import ScenarioError
from genai_bench.simulator import SimulatorConfig, SimulatorServer, SimulatorWorkers, run_simulator_worker
from genai_bench.tokenizer import TokenizerError

USAGE_ERRORS = (ConfigError, ScenarioError, TokenizerError, DatasetError)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_ALERT = 3  # --alert-action stop ended the benchmark


def fail(message: str) -> typing.NoReturn:
    """Print one line saying what is wrong and exit 2, never a traceback."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class OneLineErrorGroup(click.Group):
    """A click group whose usage errors are one line on stderr and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command, turning click's and our own usage errors into one line."""
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException as exc:
            fail(exc.format_message().replace("\n", " "))
        except USAGE_ERRORS as exc:
            fail(str(exc))


def configure_logging() -> None:
    """Our warnings on stderr; Locust's own chatter (spawn messages, CPU hints) kept quiet."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("locust").setLevel(logging.ERROR)
    # Locust's CPU warning goes to the root logger; our own client monitor reports saturation, with its figures.
    logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("CPU usage above"))


@click.group(cls=OneLineErrorGroup)
@click.version_option(package_name="genai-bench")
def main() -> None:
    """Token-level benchmark for OpenAI-compatible LLM servers, with a live dashboard."""


@main.command()
@benchmark_options
def benchmark(**options: Any) -> None:
    """Sweep traffic scenarios × concurrency against a server (or the embedded simulator) and write an experiment folder."""
    from genai_bench.dashboard import TerminalDashboard
    from genai_bench.report import summary_table
    from genai_bench.session import BenchmarkSession
    from genai_bench.web.security import token_setting, warn_if_exposed

    configure_logging()
    options["streaming_token"] = token_setting(options["streaming_token"])
    config = build_config(options, ["genai-bench", *sys.argv[1:]])
    for warning in config.warnings() + config.cluster.warnings(config.api_base):
        click.echo(f"Warning: {warning}", err=True)
    if config.enable_streaming:
        warn_if_exposed(config.streaming_host, config.streaming_token, "watch this benchmark and read its results")
    session = BenchmarkSession(config, TerminalDashboard())
    session.announce = click.echo  # --distributed: where the master waits, each worker as it joins
    try:
        target = session.start()
        if session.simulator is not None:
            click.echo(f"No --api-base given: started the embedded simulator at {target.api_base}")
        else:
            click.echo(f"Benchmarking {redact_url(target.api_base)} (model {session.config.sent_model})")
        if session.dashboard_url:
            click.echo(f"Live dashboard: {session.dashboard_url}")
        if session.cluster is not None:
            workers = f"{config.num_workers} Locust worker process" + ("es" if config.num_workers > 1 else "")
            click.echo(f"Users run in {workers} (master at {config.cluster.master_bind_host}:{session.cluster.port})")
        click.echo(f"Experiment folder: {session.folder}", nl=True)
        outcome = session.run()
        click.echo(summary_table([r.statistics for r in outcome.results]))
        if session.search_outcome:
            click.echo(session.search_outcome)
        click.echo(f"Results written to {outcome.folder}")
        if config.keep_serving and not outcome.interrupted:
            session.serve_until_interrupted(
                lambda: click.echo(f"Serving the results at {session.dashboard_url} until Ctrl-C"))
    finally:
        session.close()
    if session.stopped_by_alert:
        click.echo(f"Stopped by alert {session.stopped_by_alert}: the results above are partial.", err=True)
        sys.exit(EXIT_ALERT)
    if outcome.interrupted:
        click.echo("Interrupted: the results above are partial.", err=True)
        sys.exit(EXIT_INTERRUPTED)


@main.command()
@click.option("--master-host", default="127.0.0.1", show_default=True,
              help="The address of the host running `benchmark --distributed`.")
@click.option("--master-port", required=True, type=int, help="Its --master-port.")
@click.option("--index", default=-1, type=int, hidden=True, help="This worker's number (given by a local master).")
@click.option("--parent-pid", default=None, type=int, hidden=True, help="The master's pid: exit when it is gone.")
@click.option("--settings-on-stdin", is_flag=True, hidden=True, help="Read the settings from stdin (local workers).")
@click.option("--clock-skew-test", default=0.0, type=float, hidden=True,
              help="Tests only: act as if this host's clocks were this many seconds ahead of the master's.")
def worker(master_host: str, master_port: int, index: int, parent_pid: int | None, settings_on_stdin: bool,
           clock_skew_test: float) -> None:
    """Join a `benchmark --distributed` master as one of its Locust workers, from any host (see docs/distributed.md).

    The master sends the target, workload and settings; the worker runs its share of the users until the master
    ends the benchmark.
    """
    import os

    from genai_bench.distributed import run_worker

    configure_logging()
    if not 0 < master_port <= 65535:
        fail(f"--master-port must be the master's port (1 to 65535), got {master_port}")
    code = run_worker(master_host, master_port, index, parent_pid, settings_on_stdin, clock_skew_test)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: nothing is left to flush, and zmq's teardown could wait on a dead master


def simulator_options(command: Callable) -> Callable:
    """Add one click option per SimulatorConfig field, so the CLI and the dataclass never drift apart."""
    for spec in reversed(dataclasses.fields(SimulatorConfig)):
        flag = "--" + spec.name.replace("_", "-")
        help_text = spec.metadata.get("help", "")
        default = spec.default
        if isinstance(default, bool):
            command = click.option(f"{flag}/--no-{flag[2:]}", default=default, show_default=True, help=help_text)(command)
        elif isinstance(default, tuple):
            command = click.option(flag, default=",".join(map(str, default)), show_default=True,
                                   help=help_text + " (comma-separated)")(command)
        else:
            value_type = {"int": int, "float": float, "str": str}.get(type(default).__name__, int)
            command = click.option(flag, default=default, type=value_type, show_default=True, help=help_text)(command)
    return command


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (127.0.0.1 keeps it private).")
@click.option("--port", default=8082, type=int, show_default=True, help="Port to listen on (0 picks a free one).")
@click.option("--workers", default=1, type=int, show_default=True,
              help="Processes serving the port (SO_REUSEPORT, Linux): more take bursts of requests in parallel.")
@simulator_options
def simulate(host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the embedded OpenAI-compatible simulated LLM server until Ctrl-C."""
    from genai_bench.web.security import warn_if_exposed

    configure_logging()
    warn_if_exposed(host, None, "send requests to this simulator")
    for spec in dataclasses.fields(SimulatorConfig):
        if isinstance(spec.default, tuple):
            try:
                options[spec.name] = tuple(int(v) for v in split_values((options[spec.name],)))
            except ValueError:
                raise ConfigError(f"--{spec.name.replace('_', '-')} takes comma-separated integers") from None
    try:
        config = SimulatorConfig(**options)
    except ValueError as exc:
        raise ConfigError(f"simulate: {exc}") from None
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    check_port(port)
    try:
        server = SimulatorServer(config, host=host, port=port, shared_port=workers > 1).start()
        extra = SimulatorWorkers(config, host, server.port, workers) if workers > 1 else None
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port") from None
    processes = f", {workers} processes" if workers > 1 else ""
    freeze_long_lived_objects()
    click.echo(f"Simulator serving model {options['model']!r} at {server.url}/v1{processes} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    finally:
        if extra is not None:
            extra.stop()


@main.command("simulate-worker", hidden=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", required=True, type=int, help="The port the parent simulator serves.")
@click.option("--parent-pid", default=None, type=int, help="The parent's pid: the worker exits when it is gone.")
def simulate_worker(host: str, port: int, parent_pid: int | None) -> None:
    """One extra process of `simulate --workers N`, started by it; reads the simulator config from stdin."""
    configure_logging()
    run_simulator_worker(host, port, parent_pid)


def check_port(port: int) -> None:
    """Refuse a --port no socket can have, before anything is started."""
    problem = port_problem("--port", port)
    if problem:
        raise ConfigError(problem)


@main.command()
@click.option("--experiment-folder", "folders", multiple=True,
              help="An experiment folder to serve; repeat to compare several.")
@click.option("--results-db", default=None, help="Serve the experiments of this results database (sqlite:///path.db, "
                                                 "a file path, or postgresql://...), with any --experiment-folder.")
@click.option("--redis-url", default=None, envvar="GENAI_BENCH_REDIS_URL",
              help="Also serve every experiment in this Redis, live ones live (benchmarks run with "
                   "--streaming-redis-url; docs/redis.md). Needs the redis extra.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes it).")
@click.option("--port", default=8080, type=int, show_default=True, help="Port (0 picks a free one).")
@click.option("--streaming-token", default=None, envvar="GENAI_BENCH_STREAMING_TOKEN",
              help="Require this token on every endpoint (or GENAI_BENCH_STREAMING_TOKEN).")
@ALLOWED_HOSTS_OPTION
@STATIC_URL_OPTION
def serve(folders: tuple[str, ...], results_db: str | None, redis_url: str | None, host: str, port: int,
          streaming_token: str | None, streaming_allowed_hosts: tuple[str, ...], static_url: str | None) -> None:
    """Open the dashboard on finished experiments (results, comparison, replay, downloads), on a results database
    (--results-db), or with --redis-url on every experiment kept in Redis, running ones live."""
    from genai_bench.web.security import token_setting, warn_if_exposed
    from genai_bench.web.server import results_server

    configure_logging()
    check_port(port)
    if redis_url is not None:
        from genai_bench.web.fanout import serve_redis

        if results_db:
            raise ConfigError("serve: --redis-url and --results-db do not combine (import the Redis experiments' "
                              "folders with `genai-bench db import`, or serve them apart)")

        return serve_redis(redis_url, load_folders(folders), host, port, token_setting(streaming_token),
                           streaming_allowed_hosts, static_url)
    if not folders and not results_db:
        raise ConfigError("serve needs --experiment-folder (repeatable), --results-db or --redis-url")
    streaming_token = token_setting(streaming_token)
    experiments = load_folders(folders)
    library = database_library(results_db, [e.folder for e in experiments]) if results_db else None
    warn_if_exposed(host, streaming_token, "read and replay these results")
    try:
        server = results_server([e.folder for e in experiments], host, port, streaming_token, streaming_allowed_hosts,
                                static_url, library=library)
    except OSError as exc:
        raise ConfigError(f"--port {port} on {host} is not available ({exc.strerror or exc}); pick another") from None

    def announce() -> None:
        if library is not None:
            also = f" and {len(experiments)} experiment folder(s)" if experiments else ""
            click.echo(f"Serving the results database {library.store.shown}{also} at {server.url} (Ctrl-C to stop)")
        else:
            click.echo(f"Serving {len(experiments)} experiment(s) at {server.url} (Ctrl-C to stop)")
        for experiment in experiments:
            if experiment.partial_reasons:
                click.echo(f"  {experiment.folder.name}: partial ({'; '.join(experiment.partial_reasons)})")

    server.serve_until_signalled(announce)


def database_library(url: str, folders: list[Path] = ()):
    """The experiments of a results database (connected and migrated) plus those folders, or a one-line error."""
    return db_commands.served_library(url, folders)


@main.command()
@click.option("--experiment-folder", "folder", default=None, help="The experiment folder to report on.")
@click.option("--format", "fmt", default="html", type=click.Choice(["html", "csv", "json", "parquet"]),
              show_default=True, help="html: one self-contained file; csv: one row per run (units in the column "
              "names); json: summary; parquet: the csv's table (extra `parquet`).")
@click.option("--output", default=None, help="Where to write it (default: report.<format> inside the folder; "
                                             "needed with --results-db, which writes html, csv or json).")
@db_commands.source_options("Report on")
def report(folder: str | None, results_db: str | None, fmt: str, output: str | None, **filters: str | None) -> None:
    """Write an HTML, CSV, JSON or Parquet report of an experiment folder (or of experiments in a results database)."""
    from genai_bench.report import write_report

    if bool(folder) == bool(results_db):
        raise ConfigError("report: give --experiment-folder or --results-db, one of them")
    if results_db:
        from genai_bench.database.commands import report_from_database

        click.echo(report_from_database(results_db, fmt, output, filters))
        return
    experiment = load_folders((folder,))[0]
    try:
        path = write_report(experiment, fmt, Path(output) if output else None)
    except OSError as exc:
        raise ConfigError(f"--output {output or experiment.folder}: cannot write the report ({exc.strerror or exc}); "
                          "pick a writable place") from None
    note = " (partial: " + "; ".join(experiment.partial_reasons) + ")" if experiment.partial_reasons else ""
    click.echo(f"Wrote {path}{note}")


# Exports for other tools (genai_bench/export): an Excel workbook and image files of the results view's curves.
main.add_command(excel_command)
main.add_command(plot_command)
main.add_command(plugins_command)  # `genai-bench plugins` (plugins_cli.py)
main.add_command(db_commands.db)  # genai-bench db import (issue 18)

if __name__ == "__main__":
    main()
