"""`genai-bench plot`: the results view's curves as PNG or SVG files, for papers and slides (matplotlib, extra `plot`)."""

from __future__ import annotations

from pathlib import Path

import click

from genai_bench.config import ConfigError
from genai_bench.export.curves import PERCENTILES, Curve, Series, build_series, curves, load_axis_title
from genai_bench.export.folders import load_experiments
from genai_bench.results import Experiment

PLOT_FORMATS = ("png", "svg")
# The view's palette (results-base.js), so a figure and the page agree on each scenario's colour.
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
MISSING_EXTRA = "genai-bench plot needs matplotlib: pip install 'genai-bench[plot]'"


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or a one-line error naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _xy(series: Series, curve: Curve) -> tuple[list, list, list, list]:
    """A series' points on a curve (those with both values), with the interval's half-heights below and above."""
    xs, ys, below, above, labels = [], [], [], [], []
    for point in series.points:
        x, y = curve.x(point.mean), curve.y(point.mean)
        if x is None or y is None:
            continue
        low = curve.y(point.low) if point.low else None
        high = curve.y(point.high) if point.high else None
        xs.append(x)
        ys.append(y)
        below.append(y - low if low is not None else 0.0)
        above.append(high - y if high is not None else 0.0)
        labels.append(f"{point.load:g}")
    return xs, ys, [below, above], labels


def draw_curve(plt, curve: Curve, series: list[Series], path: Path) -> bool:
    """Draw one chart into `path`; False (no file) when no series has a point on it."""
    drawn = [(i, s, _xy(s, curve)) for i, s in enumerate(series) if curve.applies(s)]
    drawn = [(i, s, data) for i, s, data in drawn if data[0]]
    if not drawn:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for index, one, (xs, ys, errors, labels) in drawn:
            color = PALETTE[index % len(PALETTE)]
            has_interval = any(e for side in errors for e in side)
            axes.errorbar(xs, ys, yerr=errors if has_interval else None, color=color, marker="o", markersize=4,
                          linewidth=1.6, capsize=3, label=one.label)
            if not curve.name.endswith("_vs_load"):  # each point's load, as the view labels them (unless it is x)
                for x, y, text in zip(xs, ys, labels):
                    axes.annotate(text, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8, color=color)
        if curve.name.endswith("_vs_load"):
            load_ticks(axes, sorted({x for _, _, (xs, _, _, _) in drawn for x in xs}))
        axes.set_title(curve.title)
        axes.set_xlabel(curve.x_label)
        axes.set_ylabel(curve.y_label)
        top = max(y + up for _, _, (_, ys, (_, ups), _) in drawn for y, up in zip(ys, ups))
        axes.set_ylim(0, top * 1.12 if top > 0 else 1.0)  # from zero, with room above for the point labels
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        plt.close(figure)
    return True


def load_ticks(axes, loads: list[float]) -> None:
    """A load axis like the view's: a tick at each load, on a log scale when the loads span 8x or more."""
    if loads and loads[0] > 0 and loads[-1] / loads[0] >= 8:
        axes.set_xscale("log", base=2)
    axes.set_xticks(loads, [f"{load:g}" for load in loads])
    axes.minorticks_off()


def write_plots(experiments: list[Experiment], output: Path, fmt: str = "png", percentile: str = "p50",
                time_unit: str = "ms") -> list[Path]:
    """Draw every curve that has data into `output` as <curve>.<fmt>; returns the files written."""
    plt = pyplot()
    series = build_series(experiments)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for curve in curves(percentile, time_unit, load_axis_title(series)):
        path = output / f"{curve.name}.{fmt}"
        if draw_curve(plt, curve, series, path):
            written.append(path)
    return written


@click.command("plot")
@click.option("--experiment-folder", "--experiments-folder", "folder", required=True,
              help="An experiment folder, or (like upstream) a folder of experiment folders to plot together.")
@click.option("--format", "fmt", default="png", type=click.Choice(PLOT_FORMATS), show_default=True,
              help="Image format of the files.")
@click.option("--output", default=None, help="Folder to write the files into (default: the experiment folder).")
@click.option("--metric-percentile", "percentile", default="p50", type=click.Choice(PERCENTILES), show_default=True,
              help="The statistic of the latency curves.")
@click.option("--metrics-time-unit", "time_unit", default="ms", type=click.Choice(["s", "ms"]), show_default=True,
              help="Unit of the latency axes.")
def plot_command(folder: str, fmt: str, output: str | None, percentile: str, time_unit: str) -> None:
    """Draw the results view's curves (latency vs throughput, errors and throughput vs load) as image files."""
    experiments = load_experiments(folder, "--experiment-folder")
    target = Path(output) if output else Path(folder)
    try:
        written = write_plots(experiments, target, fmt, percentile, time_unit)
    except OSError as exc:
        raise ConfigError(f"--output {target}: cannot write the plots ({exc.strerror or exc}); "
                          "pick a writable folder") from None
    if not written:
        raise ConfigError(f"--experiment-folder {folder}: no finished run has data to plot")
    for path in written:
        click.echo(f"Wrote {path}")
