"""text-to-embeddings and text-to-rerank end to end against the simulator, checked at the simulator's side."""

import json

import pytest

from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.live_events import run_key
from genai_bench.options import parse_benchmark_args
from genai_bench.report import report_csv, summary_table
from genai_bench.results import load_experiment
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from genai_bench.tasks import TASKS
from genai_bench.tokenizer import builtin_tokenizer
from tests.support.servers import http_json


def run_task(tmp_path, server, task: str, scenario: str, batch_sizes: list[int], requests: int = 6, **extra):
    """One benchmark of `task` against `server`; the session (closed) and its experiment folder read back."""
    config = BenchmarkConfig(api_base=server.url, task=task, traffic_scenarios=[parse_scenario(scenario)],
                             batch_sizes=batch_sizes, max_requests_per_run=requests, max_time_per_run=0.5,
                             experiment_base_dir=str(tmp_path), experiment_folder_name="exp", seed=3, **extra)
    session = BenchmarkSession(config)
    session.run()
    session.close()
    return session, load_experiment(tmp_path / "exp")


def test_embeddings_send_batches_of_token_exact_inputs(tmp_path, start_simulator):
    server = start_simulator(embedding_base_ms=1.0, embedding_ms_per_token=0.001, seed=1)
    _, experiment = run_task(tmp_path, server, "text-to-embeddings", "E(40)", [1, 3])
    bodies = [body for body in server.app.received if "input" in body]
    assert [len(body["input"]) for body in bodies] == [1] * 6 + [3] * 6
    tokenizer = builtin_tokenizer()
    assert {tokenizer.count(text) for body in bodies for text in body["input"]} == {40}  # token-exact inputs
    assert [run.key for run in experiment.runs] == ["E40_text-to-embeddings_batch_size_1_time_30s",
                                                    "E40_text-to-embeddings_batch_size_3_time_30s"]
    batch3 = experiment.runs[1].aggregated
    assert batch3["batch_size"] == 3 and batch3["num_completed_requests"] == 6 and batch3["total_inputs"] == 18
    assert batch3["stats"]["num_input_tokens"]["sum"] == 6 * 3 * 40  # the server's usage.prompt_tokens
    assert batch3["inputs_per_second"] == pytest.approx(3 * batch3["requests_per_second"])
    assert batch3["stats"]["e2e_latency"]["p50"] > 0.001 and batch3["stats"]["ttft"] is None
    assert experiment.metadata["iteration_type"] == "batch_size" and experiment.metadata["batch_size"] == [1, 3]
    assert "ttft" not in experiment.metadata["task_metrics"] and not experiment.partial_reasons


def test_rerank_sends_a_query_and_batch_size_documents(tmp_path, start_simulator):
    server = start_simulator(seed=1)
    _, experiment = run_task(tmp_path, server, "text-to-rerank", "R(30,12)", [4], requests=5,
                             rerank_endpoint="/v2/rerank")
    bodies = [body for body in server.app.received if "documents" in body]
    tokenizer = builtin_tokenizer()
    assert len(bodies) == 5 and all(len(body["documents"]) == 4 for body in bodies)
    assert {tokenizer.count(body["query"]) for body in bodies} == {12}
    assert {tokenizer.count(doc) for body in bodies for doc in body["documents"]} == {30}
    (run,) = experiment.runs
    assert run.key == "R30_12_text-to-rerank_batch_size_4_time_30s"
    assert run.aggregated["total_inputs"] == 20 and run.aggregated["num_error_requests"] == 0
    table = summary_table([session_stats(run)])
    assert "batch size" in table.splitlines()[0] and "TTFT" not in table
    csv_header, csv_line = report_csv([experiment]).splitlines()[:2]
    assert csv_header.endswith("task,batch_size,total_inputs,inputs_per_second,mean_request_bytes,"
                               "mean_image_bytes,mean_num_images,request_bytes_per_second")
    assert ",text-to-rerank,4,20," in csv_line


def session_stats(run):
    """The run file's aggregated metrics as RunStatistics (what the terminal table reads)."""
    from genai_bench.metrics import RunStatistics

    fields = RunStatistics.__dataclass_fields__
    return RunStatistics(**{k: v for k, v in run.aggregated.items() if k in fields})


def test_simulator_answers_each_rerank_path_and_embeddings(start_simulator):
    server = start_simulator(embedding_dim=5)
    status, body = http_json(f"{server.url}/v1/embeddings", "POST", {"model": "m", "input": ["a b", "c"]})
    assert status == 200 and [len(d["embedding"]) for d in body["data"]] == [5, 5]
    assert body["usage"]["prompt_tokens"] > 0
    for path in ("/rerank", "/v1/rerank", "/v2/rerank"):
        status, body = http_json(server.url + path, "POST", {"model": "m", "query": "q", "documents": ["x", "y", "z"],
                                                     "top_n": 2})
        assert status == 200 and len(body["results"]) == 2
        scores = [r["relevance_score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)
    status, body = http_json(f"{server.url}/v1/rerank", "POST", {"model": "m", "query": 3, "documents": []})
    assert status == 400


@pytest.mark.parametrize(("args", "message"), [
    (["--traffic-scenario", "E(100)"], "--traffic-scenario E(100) is for --task text-to-embeddings; "
                                       "--task text-to-text takes D, N, U or dataset"),
    (["--task", "text-to-embeddings", "--traffic-scenario", "D(100,100)"],
     "--traffic-scenario D(100,100) is for --task text-to-text; --task text-to-embeddings takes E(tokens)"),
    (["--task", "text-to-embeddings", "--traffic-scenario", "R(100,10)"],
     "--traffic-scenario R(100,10) is for --task text-to-rerank"),
    (["--task", "text-to-rerank", "--traffic-scenario", "E(100)"],
     "--task text-to-rerank takes R(document_tokens,query_tokens), e.g. R(256,64)"),
    (["--batch-size", "8"], "--batch-size applies to the batched tasks"),
    (["--task", "text-to-embeddings", "--num-concurrency", "1,2"], "give one --num-concurrency"),
    (["--task", "text-to-embeddings", "--request-rate", "5"], "does not combine with --request-rate"),
    (["--task", "text-to-embeddings", "--batch-size", "0"], "--batch-size values must be positive"),
])
def test_bad_task_settings_are_one_line_errors(args, message):
    with pytest.raises(ConfigError) as info:
        parse_benchmark_args(args)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_each_task_has_a_default_scenario_and_batch_sizes():
    for name, spec in TASKS.items():
        config = parse_benchmark_args(["--task", name])
        assert [s.text for s in config.traffic_scenarios] == [spec.default_scenario]
        assert config.batch_sizes == ([1, 8] if spec.batched else [])
        assert config.concurrencies == ([1] if spec.batched else [1, 2, 4, 8])


def test_batch_run_keys_follow_upstream():
    assert run_key("E1024", "text-to-embeddings", 1, 60, batch_size=8) == "E1024_text-to-embeddings_batch_size_8_time_60s"
    assert run_key("E8", "text-to-embeddings", 4, 60, batch_size=2) == \
        "E8_text-to-embeddings_batch_size_2_num_concurrency_4_time_60s"


@pytest.mark.slow
def test_embeddings_benchmark_from_the_cli_with_the_embedded_simulator(run_cli, tmp_path):
    result = run_cli("benchmark", "--task", "text-to-embeddings", "--max-requests-per-run", "10",
                     "--experiment-folder-name", "cli")
    assert result.returncode == 0, result.stderr
    assert "E(256) batch size 8: 10 ok, 0 errors, E2E p50" in result.stderr + result.stdout
    assert "batch size  E2E p50 (ms)" in result.stdout  # the summary table's task columns
    files = sorted(p.name for p in (tmp_path / "experiments" / "cli").glob("E256_*.json"))
    assert files == ["E256_text-to-embeddings_batch_size_1_time_12s.json",
                     "E256_text-to-embeddings_batch_size_8_time_12s.json"]
    metadata = json.loads((tmp_path / "experiments" / "cli" / "experiment_metadata.json").read_text())
    assert metadata["task"] == "text-to-embeddings"
