"""`genai-bench excel`: the workbook opened with openpyxl and checked cell by cell against the run files."""

import json
import sys

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from genai_bench.cli import main
from tests.support.servers import run_benchmark
from tests.support.upstream_folder import write_upstream_folder

SCALE = {"s": 1.0, "ms": 1000.0}


def run_files(folder):
    """Run key -> (aggregated metrics, time unit) as written."""
    out = {}
    for path in folder.glob("*_num_concurrency_*.json"):
        document = json.loads(path.read_text())
        out[path.stem] = document["aggregated_metrics"], document.get("_time_unit", "s")
    return out


def rows_of(sheet):
    """Header -> cell, one dict per data row."""
    header = [cell.value for cell in sheet[1]]
    return [dict(zip(header, row)) for row in sheet.iter_rows(min_row=2)]


def in_seconds(aggregated, unit, metric, stat):
    return aggregated["stats"][metric][stat] / SCALE[unit]


@pytest.fixture(scope="module")
def ms_experiment(tmp_path_factory):
    """A finished experiment whose run files are in milliseconds."""
    return run_benchmark(tmp_path_factory.mktemp("ms"), metrics_time_unit="ms")


@pytest.mark.parametrize("which", ["seconds", "milliseconds"])
def test_summary_and_scenario_sheets_match_the_run_files(tmp_path, finished_experiment, ms_experiment, which):
    folder = finished_experiment if which == "seconds" else ms_experiment
    output = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["excel", "--experiment-folder", str(folder), "--output", str(output),
                                       "--metric-percentile", "p50", "--metrics-time-unit", "ms"])
    assert result.exit_code == 0, result.output
    workbook = load_workbook(output)
    assert workbook.sheetnames == ["Summary", "D(20,10)", "Metadata"]
    files = run_files(folder)
    summary = rows_of(workbook["Summary"])
    assert [row["Run"].value for row in summary] == sorted(files)  # concurrency 1 then 2
    for row in summary:
        agg, unit = files[row["Run"].value]
        assert row["Scenario"].value == agg["scenario"] == "D(20,10)"
        assert row["Concurrency"].value == agg["num_concurrency"]
        assert row["Requests"].value == agg["num_requests"]
        assert row["Completed"].value == agg["num_completed_requests"]
        assert row["Errors"].value == agg["num_error_requests"]
        assert row["Error rate (%)"].value == agg["error_rate"] and row["Error rate (%)"].number_format == "0.00%"
        assert row["Throughput (req/s)"].value == pytest.approx(agg["requests_per_second"])
        assert row["Output throughput (tokens/s)"].value == pytest.approx(agg["mean_output_throughput_tokens_per_s"])
        assert row["Input throughput (tokens/s)"].value == pytest.approx(agg["mean_input_throughput_tokens_per_s"])
        for metric, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e_latency", "E2E latency"), ("itl", "ITL")):
            for stat in ("p50", "p99"):
                cell = row[f"{label} {stat} (ms)"]
                assert cell.value == pytest.approx(in_seconds(agg, unit, metric, stat) * 1000.0), (label, stat)
                assert cell.number_format == "#,##0.00"
        assert row["Output inference speed p50 (tokens/s)"].value == pytest.approx(
            agg["stats"]["output_inference_speed"]["p50"])
        assert row["Partial"].value is False
    scenario = rows_of(workbook["D(20,10)"])
    for row, key in zip(scenario, sorted(files)):
        agg, unit = files[key]
        assert row["Run"].value == key and row["Concurrency"].value == agg["num_concurrency"]
        for stat in ("mean", "min", "p50", "p90", "p95", "p99", "max"):
            assert row[f"E2E latency {stat} (ms)"].value == pytest.approx(
                in_seconds(agg, unit, "e2e_latency", stat) * 1000.0)
            assert row[f"Output tokens {stat} (tokens)"].value == pytest.approx(agg["stats"]["num_output_tokens"][stat])
    metadata = {row["Field"].value: row["Value"].value for row in rows_of(workbook["Metadata"])}
    assert metadata["experiment_folder_name"] == folder.name and json.loads(metadata["num_concurrency"]) == [1, 2]


def test_default_output_and_upstreams_excel_name(tmp_path):
    folder = write_upstream_folder(tmp_path / "upstream_ms", "ms")
    runner = CliRunner()
    assert runner.invoke(main, ["excel", "--experiment-folder", str(folder)]).exit_code == 0
    workbook = load_workbook(folder / "upstream_ms_summary.xlsx")
    summary = rows_of(workbook["Summary"])
    assert [row["Completed"].value for row in summary] == [10, 18]
    assert summary[1]["TTFT mean (ms)"].value == pytest.approx(80.0)  # 0.08 s, stored by upstream as 80 ms
    assert runner.invoke(main, ["excel", "--experiment-folder", str(folder), "--excel-name", "mine",
                                "--metrics-time-unit", "s"]).exit_code == 0
    assert rows_of(load_workbook(folder / "mine.xlsx")["Summary"])[1]["TTFT mean (s)"].value == pytest.approx(0.08)


def test_bad_folder_and_missing_openpyxl_are_one_line_errors(tmp_path, finished_experiment, monkeypatch):
    result = CliRunner().invoke(main, ["excel", "--experiment-folder", str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "holds no genai-bench experiment" in result.output
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as when the extra is not installed: importing it fails
    result = CliRunner().invoke(main, ["excel", "--experiment-folder", str(finished_experiment), "--output",
                                       str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "pip install 'genai-bench[excel]'" in result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "x.xlsx").exists()
