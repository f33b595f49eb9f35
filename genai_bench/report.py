"""Views of finished runs: the terminal summary table (HTML/CSV/JSON reports come later)."""

from __future__ import annotations

from genai_bench.metrics import TIME_UNIT_SCALE, RunStatistics

SUMMARY_COLUMNS = ("scenario", "concurrency", "TTFT p50", "TTFT p99", "TPOT p50", "output tok/s", "req/s", "errors")


def _stat(statistics: RunStatistics, metric: str, stat: str, scale: float) -> str:
    described = statistics.stats.get(metric)
    return "-" if not described else f"{described[stat] * scale:.1f}"


def summary_rows(runs: list[RunStatistics], time_unit: str = "ms") -> list[tuple[str, ...]]:
    """One row of headline figures per run, latencies in `time_unit`."""
    scale = TIME_UNIT_SCALE[time_unit]
    rows = []
    for run in runs:
        errors = f"{run.num_errors} ({run.error_rate:.1%})" + (" partial" if run.partial else "")
        rows.append((
            run.scenario,
            str(run.concurrency),
            _stat(run, "ttft", "p50", scale),
            _stat(run, "ttft", "p99", scale),
            _stat(run, "tpot", "p50", scale),
            f"{run.output_tokens_per_second:.1f}",
            f"{run.requests_per_second:.2f}",
            errors,
        ))
    return rows


def summary_table(runs: list[RunStatistics]) -> str:
    """A fixed-width table of the runs, latencies in milliseconds (the terminal view)."""
    header = [c if not c.startswith(("TTFT", "TPOT")) else f"{c} (ms)" for c in SUMMARY_COLUMNS]
    rows = [tuple(header)] + summary_rows(runs, "ms")
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) if runs else "No run finished."
