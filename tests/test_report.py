"""Reports: CSV equal to the run JSON, JSON summary, a self-contained HTML file."""

import csv
import io
import json
import re

import pytest

from genai_bench.metrics import AGGREGATED_METRICS, STAT_NAMES, RunStatistics
from genai_bench.report import csv_unit, render_report, report_csv, report_html, report_json, summary_table, write_report
from genai_bench.results import load_experiment
from tests.support.servers import run_benchmark


def test_csv_parses_to_the_run_json_values(finished_experiment):
    experiment = load_experiment(finished_experiment)
    rows = list(csv.DictReader(io.StringIO(report_csv([experiment]))))
    assert len(rows) == 2
    for row in rows:
        run_file = next(finished_experiment.glob(f"*_num_concurrency_{row['num_concurrency']}_*.json"))
        aggregated = json.loads(run_file.read_text())["aggregated_metrics"]
        assert int(row["num_requests"]) == aggregated["num_requests"]
        assert float(row["mean_output_throughput_tokens_per_s"]) == aggregated["mean_output_throughput_tokens_per_s"]
        for metric in AGGREGATED_METRICS:
            for stat in STAT_NAMES:
                column = f"{metric}_{stat}{csv_unit(metric)}"
                if aggregated["stats"].get(metric) is None:  # e.g. schedule metrics of a closed-loop run (not written)
                    assert row[column] == "", column
                else:
                    assert float(row[column]) == aggregated["stats"][metric][stat], column


def test_json_report_holds_summary_and_runs(finished_experiment):
    document = report_json([load_experiment(finished_experiment)])
    assert document["time_unit"] == "s"
    experiment = document["experiments"][0]
    assert experiment["summary"]["run_count"] == 2 and len(experiment["runs"]) == 2
    json.dumps(document)  # serializable as is


def test_html_report_is_self_contained_and_embeds_the_data(finished_experiment):
    html = report_html([load_experiment(finished_experiment)])
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<script src=" not in html and "<link" not in html.replace("<link rel=\"icon\"", "")
    data = re.search(r'<script type="application/json" id="genai-report-data">(.*?)</script>', html, re.S).group(1)
    embedded = json.loads(data)["experiments"][0]
    assert len(embedded["runs"]) == 2 and set(embedded["requests"]) == {r["key"] for r in embedded["runs"]}


def test_embedded_data_cannot_close_the_script(tmp_path, finished_experiment):
    experiment = load_experiment(finished_experiment)
    experiment.metadata["model"] = "</script><script>alert(1)</script>"
    html = report_html([experiment])
    assert "</script><script>alert(1)" not in html


def test_write_report_defaults_into_the_folder(finished_experiment, tmp_path):
    experiment = load_experiment(finished_experiment)
    assert write_report(experiment, "csv", tmp_path / "out.csv").read_text().startswith("experiment,scenario")


def test_csv_has_latency_by_turn_for_multi_turn_runs(tmp_path):
    folder = run_benchmark(tmp_path, concurrencies=(1,), requests=6, turns=3, metrics_time_unit="ms")
    [row] = list(csv.DictReader(io.StringIO(render_report([load_experiment(folder)], "csv"))))
    run = json.loads(next(folder.glob("*_num_concurrency_1_*.json")).read_text())["aggregated_metrics"]
    # Two conversations of three turns; the CSV is in seconds whatever the run file's unit.
    expected = " ".join(f"{turn}:{run['stats_by_turn'][turn]['ttft']['p50'] / 1000}" for turn in ("1", "2", "3"))
    assert row["ttft_p50_by_turn_s"] == expected
    assert [part.split(":")[0] for part in row["e2e_latency_p50_by_turn_s"].split()] == ["1", "2", "3"]
    assert row["token_count_checked"] == "1"  # the first of six requests is checked against a local count


def test_csv_and_terminal_table_have_slo_attainment_and_goodput(tmp_path):
    folder = run_benchmark(tmp_path, concurrencies=(1,), requests=4, metrics_time_unit="ms",
                           slo={"ttft": 60.0, "tpot": 0.000001})
    experiment = load_experiment(folder)
    [row] = list(csv.DictReader(io.StringIO(render_report([experiment], "csv"))))
    # Every request meets a minute's TTFT and none a microsecond's TPOT; targets stay seconds in an ms experiment.
    assert (row["slo_attainment_ttft"], row["slo_attainment_tpot"], row["slo_attainment"]) == ("1.0", "0.0", "0.0")
    assert row["slo_attainment_e2e_latency"] == "" and row["goodput_requests_per_second"] == "0.0"
    assert row["slo_targets_s"] == "ttft:60 tpot:1e-06"
    assert experiment.runs[0].aggregated["slo"]["targets"] == {"ttft": 60.0, "tpot": 0.000001}
    stats = RunStatistics(**{k: v for k, v in experiment.runs[0].aggregated.items() if k in RunStatistics.__dataclass_fields__})
    table = summary_table([stats])
    assert "SLO met" in table.splitlines()[0] and "0.0%" in table.splitlines()[2]


def test_csv_and_parquet_read_with_pandas_as_the_same_typed_table(finished_experiment, tmp_path):
    import pandas

    experiment = load_experiment(finished_experiment)
    csv_path = write_report(experiment, "csv", tmp_path / "runs.csv")
    parquet_path = write_report(experiment, "parquet", tmp_path / "runs.parquet")
    from_csv, from_parquet = pandas.read_csv(csv_path), pandas.read_parquet(parquet_path)
    assert list(from_csv.columns) == list(from_parquet.columns)  # one header row: the column names
    assert list(from_csv["num_concurrency"]) == list(from_parquet["num_concurrency"]) == [1, 2]
    for column in ("num_completed_requests", "mean_output_throughput_tokens_per_s", "ttft_p50_s",
                   "output_throughput_mean_tokens_per_s", "num_output_tokens_sum"):
        assert pandas.api.types.is_numeric_dtype(from_csv[column]), column
        assert list(from_csv[column]) == pytest.approx(list(from_parquet[column])), column
    # Every latency column says its unit, every rate column its rate.
    assert all(c.endswith("_s") for c in from_csv.columns if c.startswith(("ttft_", "tpot_", "e2e_latency_")))
    assert all(c.endswith("_tokens_per_s") for c in from_csv.columns if c.startswith("output_throughput_"))


def test_parquet_without_pyarrow_is_a_one_line_error(finished_experiment, tmp_path, monkeypatch):
    import sys

    from click.testing import CliRunner

    from genai_bench.cli import main

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as when the extra is not installed: importing it fails
    result = CliRunner().invoke(main, ["report", "--experiment-folder", str(finished_experiment), "--format",
                                       "parquet", "--output", str(tmp_path / "r.parquet")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "pip install 'genai-bench[parquet]'" in result.output
