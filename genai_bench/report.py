"""Views of finished runs: the terminal summary table and the HTML, CSV and JSON reports (spec §6.4)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from genai_bench.assets import asset_folder
from genai_bench.config import ConfigError
from genai_bench.metrics import AGGREGATED_METRICS, RATE_METRICS, STAT_NAMES, TIME_METRICS, TIME_UNIT_SCALE, RunStatistics
from genai_bench.results import Experiment, RunDocument
from genai_bench.slo import SLO_METRICS

REPORT_FORMATS = ("html", "csv", "json")
# The results view's scripts (static/js), in load order; the HTML report inlines them.
REPORT_SCRIPTS = ("common.js", "results-base.js", "results-sources.js", "results-picker.js", "results-curves.js",
                  "results-table.js", "results-drill.js", "results-view.js")
# Upstream genai-bench's aggregated_metrics names where it has the quantity; units at the end of every name.
CSV_RUN_COLUMNS = ("experiment", "scenario", "num_concurrency", "num_requests", "num_completed_requests",
                   "num_error_requests", "error_rate", "run_duration_s", "requests_per_second",
                   "mean_input_throughput_tokens_per_s", "mean_output_throughput_tokens_per_s",
                   "mean_total_tokens_throughput_tokens_per_s", "tokens_estimated", "token_count_checked",
                   "token_count_mismatch", "partial", "ttft_p50_by_turn_s", "e2e_latency_p50_by_turn_s")

# Runs with --slo: attainment, goodput, the share meeting each metric's SLO and the targets ("ttft:0.2 e2e_latency:5").
SLO_CSV_COLUMNS = ("slo_attainment", "goodput_requests_per_second", "goodput_output_tokens_per_second",
                   *(f"slo_attainment_{metric}" for metric in SLO_METRICS), "slo_targets_s")

# Embeddings and rerank runs (tasks.py): the task, the inputs per request and the inputs' rate.
TASK_CSV_COLUMNS = ("task", "batch_size", "total_inputs", "inputs_per_second")
# What the requests carried up (metrics.upload_statistics): with images, the upload dominates what is sent.
UPLOAD_CSV_COLUMNS = ("mean_request_bytes", "mean_image_bytes", "mean_num_images", "request_bytes_per_second")

SUMMARY_COLUMNS = ("scenario", "concurrency", "TTFT p50", "TTFT p99", "TPOT p50", "output tok/s", "req/s", "errors")
# Batched runs have no token timing: their end-to-end latency and the inputs they got through instead.
BATCH_SUMMARY_COLUMNS = ("scenario", "batch size", "E2E p50", "E2E p99", "input tok/s", "inputs/s", "req/s", "errors")


def _stat(statistics: RunStatistics, metric: str, stat: str, scale: float) -> str:
    described = statistics.stats.get(metric)
    return "-" if not described else f"{described[stat] * scale:.1f}"


def summary_rows(runs: list[RunStatistics], time_unit: str = "ms") -> list[tuple[str, ...]]:
    """One row of headline figures per run, latencies in `time_unit`."""
    scale = TIME_UNIT_SCALE[time_unit]
    rows = []
    for run in runs:
        errors = f"{run.num_error_requests} ({run.error_rate:.1%})" + (" partial" if run.partial else "")
        if run.batch_size is not None:
            rows.append((run.scenario, str(run.batch_size), _stat(run, "e2e_latency", "p50", scale),
                         _stat(run, "e2e_latency", "p99", scale), f"{run.mean_input_throughput_tokens_per_s:.1f}",
                         f"{run.inputs_per_second:.2f}", f"{run.requests_per_second:.2f}", errors))
            continue
        rows.append((
            run.scenario,
            str(run.num_concurrency),
            _stat(run, "ttft", "p50", scale),
            _stat(run, "ttft", "p99", scale),
            _stat(run, "tpot", "p50", scale),
            f"{run.mean_output_throughput_tokens_per_s:.1f}",
            f"{run.requests_per_second:.2f}",
            errors,
        ))
    return rows


def summary_table(runs: list[RunStatistics]) -> str:
    """A fixed-width table of the runs, latencies in milliseconds (the terminal view); open-loop runs show their rate."""
    columns = BATCH_SUMMARY_COLUMNS if runs and all(run.batch_size is not None for run in runs) else SUMMARY_COLUMNS
    header = [c if not c.startswith(("TTFT", "TPOT", "E2E")) else f"{c} (ms)" for c in columns]
    rows = [tuple(header)] + summary_rows(runs, "ms")
    if any(run.request_rate is not None for run in runs):
        rates = ["rate (req/s)"] + [f"{run.request_rate:g}" if run.request_rate else "-" for run in runs]
        rows = [row[:2] + (rate,) + row[2:] for row, rate in zip(rows, rates)]
    if any(run.slo for run in runs):
        slo = [("SLO met", "goodput req/s")] + [_slo_summary(run.slo) for run in runs]
        rows = [row + extra for row, extra in zip(rows, slo)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) if runs else "No run finished."


def _slo_summary(slo: dict | None) -> tuple[str, str]:
    """A run's SLO attainment and goodput for the terminal table ("-" for a run without SLOs or requests)."""
    if not slo or slo["attainment"] is None:
        return "-", "-"
    return f"{slo['attainment']:.1%}", f"{slo['goodput_requests_per_second']:.2f}"


def csv_columns() -> list[str]:
    """Run-level columns, then one column per metric × statistic (latencies in seconds: suffix _s)."""
    return list(CSV_RUN_COLUMNS) + [f"{metric}_{stat}{csv_unit(metric)}"
                                     for metric in AGGREGATED_METRICS for stat in STAT_NAMES] + list(SLO_CSV_COLUMNS) + \
        list(TASK_CSV_COLUMNS) + list(UPLOAD_CSV_COLUMNS)


def csv_unit(metric: str) -> str:
    """The unit suffix of a metric's CSV columns: _s for latencies, _tokens_per_s for rates, none for counts."""
    return "_s" if metric in TIME_METRICS else "_tokens_per_s" if metric in RATE_METRICS else ""


def by_turn(aggregated: dict, metric: str) -> str:
    """A multi-turn run's p50 of `metric` per turn index, as "1:0.045 2:0.052" (empty for other runs)."""
    turns = aggregated.get("stats_by_turn") or {}
    return " ".join(f"{turn}:{(turns[turn].get(metric) or {}).get('p50', '')}" for turn in sorted(turns, key=int))


def csv_row(experiment_id: str, run: RunDocument, task: str = "text-to-text") -> list:
    """One run as a CSV row in csv_columns() order (empty cells where a metric has no data)."""
    agg = run.aggregated
    row = [experiment_id, run.scenario, run.concurrency, agg.get("num_requests"), agg.get("num_completed_requests"),
           agg.get("num_error_requests"), agg.get("error_rate"), agg.get("run_duration"), agg.get("requests_per_second"),
           agg.get("mean_input_throughput_tokens_per_s"), agg.get("mean_output_throughput_tokens_per_s"),
           agg.get("mean_total_tokens_throughput_tokens_per_s"), agg.get("tokens_estimated"), agg.get("token_count_checked"),
           agg.get("token_count_mismatch"), run.partial, by_turn(agg, "ttft"), by_turn(agg, "e2e_latency")]
    stats = agg.get("stats") or {}
    row += [(stats.get(metric) or {}).get(stat, "") for metric in AGGREGATED_METRICS for stat in STAT_NAMES]
    upload = agg.get("upload") or {}
    return row + slo_cells(agg.get("slo")) + [task, agg.get("batch_size") or "", agg.get("total_inputs", ""),
                                              agg.get("inputs_per_second", "")] + [
        upload.get(column, "") for column in UPLOAD_CSV_COLUMNS]


def slo_cells(slo: dict | None) -> list:
    """A run's SLO_CSV_COLUMNS cells (all empty without SLOs; a metric without a target has an empty share)."""
    if not slo:
        return [""] * len(SLO_CSV_COLUMNS)
    shares = slo.get("per_metric") or {}
    targets = " ".join(f"{metric}:{target:g}" for metric, target in (slo.get("targets") or {}).items())
    return [slo.get("attainment"), slo.get("goodput_requests_per_second"), slo.get("goodput_output_tokens_per_second"),
            *(shares.get(metric, "") for metric in SLO_METRICS), targets]


def report_csv(experiments: list[Experiment]) -> str:
    """One row per scenario × concurrency run of every experiment."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_columns())
    for experiment in experiments:
        task = experiment.metadata.get("task") or "text-to-text"
        writer.writerows(csv_row(experiment.id, run, task) for run in experiment.runs)
    return buffer.getvalue()


def report_json(experiments: list[Experiment]) -> dict:
    """Summary, metadata and aggregated runs of every experiment (latencies in seconds)."""
    return {"generated_at": time.time(), "time_unit": "s", "experiments": [e.to_dict() for e in experiments]}


def report_html(experiments: list[Experiment]) -> str:
    """A single self-contained HTML file: the results view with Chart.js, styles and data inlined."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    data = {"experiments": [{**e.to_dict(), "requests": {run.key: run.requests() for run in e.runs}}
                            for e in experiments]}
    static = asset_folder("static")
    environment = Environment(loader=FileSystemLoader(asset_folder("templates")), autoescape=select_autoescape())
    return environment.get_template("report.html").render(
        title="genai-bench report: " + ", ".join(e.folder.name for e in experiments),
        chartjs=(static / "vendor" / "chart.js" / "chart.umd.min.js").read_text(),
        scripts=[(static / "js" / name).read_text() for name in REPORT_SCRIPTS],
        css=(static / "css" / "dashboard.css").read_text(),
        data_json=script_safe_json(data),
    )


def script_safe_json(data) -> str:
    """JSON that cannot end the <script> element it is embedded in."""
    return json.dumps(data, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_report(experiments: list[Experiment], fmt: str) -> str:
    """The report in one of REPORT_FORMATS, as text."""
    if fmt == "html":
        return report_html(experiments)
    if fmt == "csv":
        return report_csv(experiments)
    return json.dumps(report_json(experiments), indent=2)


def report_table(experiments: list[Experiment]) -> dict[str, list]:
    """The CSV's columns as typed lists (empty cells as None), for columnar formats."""
    rows = [csv_row(e.id, run, e.metadata.get("task") or "text-to-text") for e in experiments for run in e.runs]
    return {name: [None if value == "" else value for value in column]
            for name, column in zip(csv_columns(), zip(*rows) if rows else [()] * len(csv_columns()))}


def write_parquet(experiments: list[Experiment], path: Path) -> None:
    """The CSV's rows and columns as a Parquet file (pyarrow, extra `parquet`)."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ConfigError("report --format parquet needs pyarrow: pip install 'genai-bench[parquet]'") from None
    pyarrow.parquet.write_table(pyarrow.table(report_table(experiments)), path)


def write_report(experiment: Experiment, fmt: str, output: Path | None = None) -> Path:
    """Write the report (REPORT_FORMATS or parquet); by default report.<fmt> inside the experiment folder."""
    path = Path(output) if output else experiment.folder / f"report.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        write_parquet([experiment], path)
    else:
        path.write_text(render_report([experiment], fmt), encoding="utf-8")
    return path
