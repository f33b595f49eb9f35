"""`genai-bench plot`: the results view's curves as files of the asked format, and the series they are drawn from."""

import shutil
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from genai_bench.cli import main
from genai_bench.export.curves import build_series, curves, load_axis_title
from genai_bench.results import load_experiment
from tests.support.upstream_folder import RUNS, write_upstream_folder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STREAMED_CURVES = {"ttft_vs_output_throughput", "tpot_vs_output_throughput", "e2e_latency_vs_requests_per_s",
                   "error_rate_vs_load", "output_throughput_vs_load"}


def test_png_files_go_into_the_experiment_folder_by_default(tmp_path, finished_experiment):
    folder = tmp_path / "exp"
    shutil.copytree(finished_experiment, folder)
    result = CliRunner().invoke(main, ["plot", "--experiment-folder", str(folder)])
    assert result.exit_code == 0, result.output
    written = {path.stem: path for path in folder.glob("*.png")}
    assert set(written) == STREAMED_CURVES  # no SLO, no batches: no goodput or inputs/s chart
    for path in written.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert result.output.count("Wrote ") == len(STREAMED_CURVES)


def test_svg_into_an_output_folder(tmp_path, finished_experiment):
    output = tmp_path / "figures"
    result = CliRunner().invoke(main, ["plot", "--experiment-folder", str(finished_experiment), "--format", "svg",
                                       "--output", str(output), "--metric-percentile", "p99"])
    assert result.exit_code == 0, result.output
    files = sorted(output.glob("*.svg"))
    assert {p.stem for p in files} == STREAMED_CURVES
    for path in files:
        root = ET.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "TTFT p99 vs output tokens/s" in (output / "ttft_vs_output_throughput.svg").read_text()
    assert not list(finished_experiment.glob("*.svg"))


def test_upstreams_experiments_folder_plots_every_experiment_together(tmp_path):
    write_upstream_folder(tmp_path / "all" / "run_s", "s")
    write_upstream_folder(tmp_path / "all" / "run_ms", "ms")
    result = CliRunner().invoke(main, ["plot", "--experiments-folder", str(tmp_path / "all"), "--output",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "ttft_vs_output_throughput.png").read_bytes().startswith(PNG_MAGIC)


def test_series_hold_the_points_the_view_draws(tmp_path):
    experiment = load_experiment(write_upstream_folder(tmp_path / "up", "ms"))
    [series] = build_series([experiment])
    assert series.label == "D(100,100)" and series.streamed and not series.batched
    assert [p.load for p in series.points] == [1, 2]
    by_name = {c.name: c for c in curves("mean", "ms", load_axis_title([series]))}
    ttft = by_name["ttft_vs_output_throughput"]
    assert [ttft.y(p.mean) for p in series.points] == pytest.approx([RUNS[c][3] * 1000.0 for c in (1, 2)])
    assert [ttft.x(p.mean) for p in series.points] == pytest.approx([RUNS[c][0] * 100 / RUNS[c][2] for c in (1, 2)])
    errors = by_name["error_rate_vs_load"]
    assert [errors.x(p.mean) for p in series.points] == [1, 2]
    assert [errors.y(p.mean) for p in series.points] == pytest.approx([0.0, 10.0])
    assert load_axis_title([series]) == "concurrency"


def test_missing_matplotlib_is_a_one_line_error(tmp_path, finished_experiment, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as when the extra is not installed: importing it fails
    result = CliRunner().invoke(main, ["plot", "--experiment-folder", str(finished_experiment), "--output",
                                       str(tmp_path / "figures")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "pip install 'genai-bench[plot]'" in result.output and not (tmp_path / "figures").exists()


def test_repeats_become_one_point_per_load_with_its_interval(tmp_path):
    from tests.support.servers import run_benchmark

    experiment = load_experiment(run_benchmark(tmp_path, concurrencies=(1, 2), requests=4, repeats=2))
    [series] = build_series([experiment])
    assert [(p.load, p.n) for p in series.points] == [(1, 2), (2, 2)]
    e2e = {c.name: c for c in curves("p50", "s", "concurrency")}["e2e_latency_vs_requests_per_s"]
    for point in series.points:
        runs = [r for r in experiment.runs if r.concurrency == point.load]
        assert e2e.y(point.mean) == pytest.approx(sum(r.aggregated["stats"]["e2e_latency"]["p50"] for r in runs) / 2)
        assert e2e.y(point.low) <= e2e.y(point.mean) <= e2e.y(point.high)
    assert CliRunner().invoke(main, ["plot", "--experiment-folder", str(experiment.folder)]).exit_code == 0
