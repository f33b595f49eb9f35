"""`genai-bench excel`: an experiment (from a folder or a results database) as a workbook (openpyxl, extra `excel`): a summary sheet with one row per run,
one sheet per scenario across its loads, and the metadata; number formats set and units in every header."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from genai_bench.config import ConfigError
from genai_bench.database.commands import source_options
from genai_bench.export.curves import PERCENTILES
from genai_bench.metrics import TIME_UNIT_SCALE
from genai_bench.results import Experiment, RunDocument

MISSING_EXTRA = "genai-bench excel needs openpyxl: pip install 'genai-bench[excel]'"
INTEGER, PERCENT, RATE, TOKENS_RATE = "0", "0.00%", "#,##0.00", "#,##0.0"
LATENCY_FORMAT = {"ms": "#,##0.00", "s": "0.0000"}
# Per-request metrics on the scenario sheets: (metric, header label, kind) with kind latency, rate or tokens.
SHEET_METRICS = (("ttft", "TTFT", "latency"), ("tpot", "TPOT", "latency"), ("e2e_latency", "E2E latency", "latency"),
                 ("output_latency", "Output latency", "latency"), ("itl", "ITL", "latency"),
                 ("output_inference_speed", "Output inference speed", "rate"),
                 ("input_throughput", "Input throughput", "rate"), ("output_throughput", "Output throughput", "rate"),
                 ("num_input_tokens", "Input tokens", "tokens"), ("num_output_tokens", "Output tokens", "tokens"))
SHEET_STATS = ("mean", "min", "p50", "p90", "p95", "p99", "max")
SUMMARY_LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e_latency", "E2E latency"), ("itl", "ITL"))


@dataclass(frozen=True)
class Column:
    """One column: its header (with the unit), how to read it from a run, and its Excel number format."""

    header: str
    get: Callable[[RunDocument], object]
    number_format: str | None = None


def _agg(name: str, scale: float = 1.0) -> Callable[[RunDocument], object]:
    def get(run: RunDocument) -> object:
        value = run.aggregated.get(name)
        return value * scale if isinstance(value, (int, float)) and not isinstance(value, bool) and scale != 1 else value
    return get


def _stat(metric: str, stat: str, scale: float = 1.0) -> Callable[[RunDocument], float | None]:
    def get(run: RunDocument) -> float | None:
        value = ((run.aggregated.get("stats") or {}).get(metric) or {}).get(stat)
        return None if value is None else value * scale
    return get


def load_columns(runs: list[RunDocument]) -> list[Column]:
    """The load columns the runs need: concurrency always, arrival rate and batch size when some run has them."""
    columns = [Column("Concurrency", lambda r: r.concurrency, INTEGER)]
    if any(r.aggregated.get("request_rate") is not None for r in runs):
        columns.append(Column("Request rate (req/s)", _agg("request_rate"), RATE))
    if any(r.batch_size is not None for r in runs):
        columns.append(Column("Batch size", lambda r: r.batch_size, INTEGER))
    return columns


def count_columns() -> list[Column]:
    """Requests, outcomes and run-level throughputs."""
    return [Column("Requests", _agg("num_requests"), INTEGER),
            Column("Completed", _agg("num_completed_requests"), INTEGER),
            Column("Errors", _agg("num_error_requests"), INTEGER),
            Column("Error rate (%)", _agg("error_rate"), PERCENT),
            Column("Duration (s)", _agg("run_duration"), RATE),
            Column("Throughput (req/s)", _agg("requests_per_second"), RATE),
            Column("Output throughput (tokens/s)", _agg("mean_output_throughput_tokens_per_s"), TOKENS_RATE),
            Column("Input throughput (tokens/s)", _agg("mean_input_throughput_tokens_per_s"), TOKENS_RATE),
            Column("Total throughput (tokens/s)", _agg("mean_total_tokens_throughput_tokens_per_s"), TOKENS_RATE)]


def summary_columns(runs: list[RunDocument], percentile: str, time_unit: str) -> list[Column]:
    """The summary sheet: scenario, load, counts, throughputs, then the latencies at `percentile` and p99."""
    scale, fmt = TIME_UNIT_SCALE[time_unit], LATENCY_FORMAT[time_unit]
    stats = (percentile,) if percentile == "p99" else (percentile, "p99")
    latencies = [Column(f"{label} {stat} ({time_unit})", _stat(metric, stat, scale), fmt)
                 for metric, label in SUMMARY_LATENCIES for stat in stats]
    return ([Column("Scenario", lambda r: r.scenario)] + load_columns(runs) + count_columns() + latencies +
            [Column(f"Output inference speed {percentile} (tokens/s)", _stat("output_inference_speed", percentile),
                    TOKENS_RATE),
             Column("Partial", lambda r: r.partial), Column("Run", lambda r: r.key)])


def scenario_columns(runs: list[RunDocument], time_unit: str) -> list[Column]:
    """A scenario sheet: load, counts and throughputs, then every per-request metric's statistics."""
    scale = TIME_UNIT_SCALE[time_unit]
    columns = load_columns(runs) + count_columns()
    for metric, label, kind in SHEET_METRICS:
        unit, factor, fmt = {"latency": (time_unit, scale, LATENCY_FORMAT[time_unit]),
                             "rate": ("tokens/s", 1.0, TOKENS_RATE), "tokens": ("tokens", 1.0, TOKENS_RATE)}[kind]
        columns += [Column(f"{label} {stat} ({unit})", _stat(metric, stat, factor), fmt) for stat in SHEET_STATS]
    return columns + [Column("Run", lambda r: r.key)]


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique worksheet title for `name` (Excel: at most 31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Scenario"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def fill_sheet(sheet, columns: list[Column], runs: list[RunDocument]) -> None:
    """Header row (bold, frozen, filterable), one row per run, each column's number format and width."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.append([c.header for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for run in runs:
        sheet.append([c.get(run) for c in columns])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, min(len(column.header) + 2, 40))
        if column.number_format:
            for row in range(2, len(runs) + 2):
                sheet[f"{letter}{row}"].number_format = column.number_format
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions


def fill_metadata(sheet, metadata: dict) -> None:
    """The experiment's metadata as field / value rows (lists and objects as JSON)."""
    from openpyxl.styles import Font

    sheet.append(["Field", "Value"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for key, value in metadata.items():
        shown = value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)
        sheet.append([key, shown])
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 80


def sort_key(run: RunDocument) -> tuple:
    """Runs by load: batch size, else arrival rate, else concurrency."""
    return (run.batch_size or 0, run.aggregated.get("request_rate") or 0, run.concurrency, run.key)


def build_workbook(experiment: Experiment, percentile: str = "mean", time_unit: str = "ms"):
    """The workbook of one experiment (an openpyxl Workbook)."""
    try:
        from openpyxl import Workbook
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None
    runs = sorted(experiment.runs, key=lambda r: (r.scenario, *sort_key(r)))
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Summary"
    fill_sheet(summary, summary_columns(runs, percentile, time_unit), runs)
    taken = {"summary", "metadata"}
    for scenario in dict.fromkeys(r.scenario for r in runs):
        mine = [r for r in runs if r.scenario == scenario]
        fill_sheet(workbook.create_sheet(sheet_title(scenario, taken)), scenario_columns(mine, time_unit), mine)
    fill_metadata(workbook.create_sheet("Metadata"), experiment.metadata)
    return workbook


def default_output(experiment: Experiment, excel_name: str | None) -> Path:
    """Upstream's places: <folder>/<excel-name>.xlsx, or <folder>/<folder name>_summary.xlsx."""
    name = excel_name if excel_name else f"{experiment.folder.name}_summary"
    return experiment.folder / f"{name}.xlsx"


@click.command("excel")
@click.option("--experiment-folder", "folder", default=None, help="The experiment folder to export.")
@source_options("Export one of")
@click.option("--output", default=None, help="The .xlsx file to write (default: inside the experiment folder; "
                                             "needed with --results-db).")
@click.option("--excel-name", default=None,
              help="Like upstream: write <experiment-folder>/<excel-name>.xlsx (ignored with --output).")
@click.option("--metric-percentile", "percentile", default="mean", type=click.Choice(PERCENTILES), show_default=True,
              help="The statistic of the summary sheet's latency columns (p99 is always there too).")
@click.option("--metrics-time-unit", "time_unit", default="ms", type=click.Choice(["s", "ms"]), show_default=True,
              help="Unit of the latency columns.")
def excel_command(folder: str | None, results_db: str | None, output: str | None, excel_name: str | None,
                  percentile: str, time_unit: str, **filters: str | None) -> None:
    """Export an experiment (a folder, or the one a filter selects in a results database) to an Excel workbook: a
    summary sheet and one sheet per scenario."""
    if bool(folder) == bool(results_db):
        raise ConfigError("excel: give --experiment-folder or --results-db, one of them")
    if results_db and not output:
        raise ConfigError("excel --results-db: give --output (there is no experiment folder to write into)")
    experiment = database_experiment(results_db, filters) if results_db else folder_experiment(folder)
    path = Path(output) if output else default_output(experiment, excel_name)
    workbook = build_workbook(experiment, percentile, time_unit)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        workbook.save(path)
    except OSError as exc:
        raise ConfigError(f"--output {path}: cannot write the workbook ({exc.strerror or exc}); "
                          "pick a writable place") from None
    click.echo(f"Wrote {path}")


def folder_experiment(folder: str) -> Experiment:
    """The one experiment of a folder that has runs, or a one-line error."""
    from genai_bench.export.folders import load_experiments

    experiments = load_experiments(folder, "--experiment-folder")
    if len(experiments) > 1:
        raise ConfigError(f"--experiment-folder {folder}: holds {len(experiments)} experiments; name one of them")
    if not experiments[0].runs:
        raise ConfigError(f"--experiment-folder {folder}: no run file to export")
    return experiments[0]


def database_experiment(url: str, filters: dict) -> Experiment:
    """The one experiment the filter selects in a results database (a workbook holds one), or a one-line error."""
    from genai_bench.database.commands import experiments_from_database

    experiments = experiments_from_database(url, filters)
    if len(experiments) > 1:
        names = ", ".join(e.folder.name for e in experiments[:5]) + (", ..." if len(experiments) > 5 else "")
        raise ConfigError(f"--results-db: {len(experiments)} experiments match the filter ({names}); a workbook holds "
                          "one: narrow it with --model, --engine, --version, --gpu, --scenario, --since or --until")
    if not experiments[0].runs:
        raise ConfigError(f"--results-db: experiment {experiments[0].folder.name} has no run to export")
    return experiments[0]
