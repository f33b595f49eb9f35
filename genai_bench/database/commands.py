"""`genai-bench db import`, and the --results-db options of `serve`, `report` and `excel` (registered in cli.py)."""

from __future__ import annotations

from pathlib import Path

import click

from genai_bench.config import ConfigError
from genai_bench.database.settings import REQUEST_MODES, ResultsDbSettings, shown_url
from genai_bench.database.store import DatabaseError, ResultsStore
from genai_bench.results import Experiment, ExperimentFilter
from genai_bench.export.folders import load_folders

RESULTS_DB_HELP = "A results database (sqlite:///path.db, a file path, or postgresql://...) written by --results-db."
# The filter options of `report --results-db` (serve filters in the page and with query parameters).
FILTER_OPTIONS = [
    click.option("--model", default=None, help="Only experiments of this model (with --results-db)."),
    click.option("--engine", default=None, help="Only this --server-engine (with --results-db)."),
    click.option("--version", "version", default=None, help="Only this --server-version (with --results-db)."),
    click.option("--gpu", default=None, help="Only this --server-gpu-type (with --results-db)."),
    click.option("--scenario", default=None, help="Only experiments that ran this traffic scenario (with --results-db)."),
    click.option("--since", default=None, help="Only experiments started at or after this date (UTC; with --results-db)."),
    click.option("--until", default=None, help="Only experiments started before the end of this date (with --results-db)."),
]


def filter_options(command):
    """Add the experiment filter options to a click command."""
    for option in reversed(FILTER_OPTIONS):
        command = option(command)
    return command


def source_options(what: str):
    """The `--results-db URL` option (`what` the command does with it) and the filters: one block for report and
    excel; the command gets `results_db` and the filter names as keyword arguments."""
    def decorate(command):
        command = filter_options(command)
        return click.option("--results-db", default=None, help=f"{what} the experiments of this results database "
                            "instead (sqlite:///path.db, a file path, or postgresql://...), filtered by the options "
                            "below.")(command)
    return decorate


def experiment_filter(options: dict) -> ExperimentFilter:
    """The filter the options name, or a one-line error naming the bad date."""
    try:
        return ExperimentFilter.of(options)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None


def open_store(url: str) -> ResultsStore:
    """Connect (and migrate) or a one-line error."""
    ResultsDbSettings(url).validate()
    try:
        return ResultsStore.connect(url)
    except DatabaseError as exc:
        raise ConfigError(f"--results-db {shown_url(url)}: cannot open it ({exc})") from None


@click.group("db")
def db() -> None:
    """The results database: load experiment folders into it."""


@db.command("import")
@click.option("--results-db", "url", required=True, help=RESULTS_DB_HELP)
@click.option("--experiment-folder", "folders", multiple=True, required=True,
              help="An experiment folder to load; repeat for several. Loading one again replaces its rows.")
@click.option("--results-db-requests", "requests", default="sample", type=click.Choice(REQUEST_MODES),
              show_default=True, help="Request records written: none, a sample (1000 per run) or all.")
def import_folders(url: str, folders: tuple[str, ...], requests: str) -> None:
    """Load experiment folders written earlier into the results database (idempotent)."""
    experiments = load_folders(folders)
    store = open_store(url)
    limit = ResultsDbSettings(url, requests).request_limit
    try:
        for experiment in experiments:
            store.save_folder(experiment, limit)
            click.echo(f"Imported {experiment.folder} ({len(experiment.runs)} run(s))")
    except Exception as exc:
        from genai_bench.database.store import one_line

        raise ConfigError(f"--results-db {store.shown}: writing failed ({one_line(exc)})") from None
    finally:
        store.close()


def report_from_database(url: str, fmt: str, output: str | None, filters: dict) -> str:
    """Write the report of the experiments a filter selects from a results database; the line to print."""
    from genai_bench.database.library import DatabaseLibrary
    from genai_bench.report import render_report

    if not output:
        raise ConfigError("report --results-db: give --output (there is no experiment folder to write into)")
    if fmt not in ("html", "csv", "json"):
        raise ConfigError(f"report --results-db writes html, csv or json, not {fmt}")
    where = experiment_filter(filters)
    store = open_store(url)
    try:
        experiments = selected_experiments(DatabaseLibrary(store), where)
        text = render_report(experiments, fmt)
    finally:
        store.close()
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write the report ({exc.strerror or exc}); pick a writable "
                          "place") from None
    return f"Wrote {path} ({len(experiments)} experiment(s))"


def selected_experiments(library, where: ExperimentFilter) -> list[Experiment]:
    """The experiments (with their runs) `where` selects from a DatabaseLibrary, or a one-line error if none."""
    experiments = [library.get(e.id) for e in library.select(where)]
    if not experiments:
        raise ConfigError(f"--results-db {library.store.shown}: no experiment matches the filter")
    return experiments


def experiments_from_database(url: str, filters: dict) -> list[Experiment]:
    """The experiments (runs loaded, store closed) a filter selects from a results database, or a one-line error."""
    from genai_bench.database.library import DatabaseLibrary

    where = experiment_filter(filters)
    store = open_store(url)
    try:
        return selected_experiments(DatabaseLibrary(store), where)
    finally:
        store.close()


def served_library(url: str, folders: list[Path] = (), live_folder: Path | None = None):
    """What `serve --results-db` and wsgi's GENAI_BENCH_RESULTS_DB show: the database plus the folders (a
    database.library.CombinedLibrary), or a one-line error."""
    from genai_bench.database.library import CombinedLibrary, DatabaseLibrary

    return CombinedLibrary(DatabaseLibrary(open_store(url)), folders, live_folder)
