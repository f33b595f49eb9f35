"""The `genai-bench` command as a user runs it: a real subprocess, real simulator, real files."""

import json
import socket

import psutil
import pytest
from click.testing import CliRunner

from genai_bench.cli import main
from tests.support.servers import free_port, http_json

QUICK = ("--max-requests-per-run", "6", "--max-time-per-run", "0.5")


def test_benchmark_without_api_base_runs_the_embedded_simulator_and_writes_results(tmp_path, run_cli):
    result = run_cli("benchmark", "--num-concurrency", "1,2", *QUICK, "--experiment-folder-name", "exp")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No --api-base given: started the embedded simulator at http://127.0.0.1:")
    assert any(line.startswith("D(100,100)") and line.split()[1] == "2" for line in lines), result.stdout
    files = sorted(p.name for p in (tmp_path / "experiments" / "exp").iterdir())
    assert "D100_100_text-to-text_num_concurrency_1_time_30s.json" in files
    assert "D100_100_text-to-text_num_concurrency_2_time_30s.json" in files
    run = json.loads((tmp_path / "experiments" / "exp" / files[0]).read_text())
    assert run["aggregated_metrics"]["num_completed_requests"] == 6


def test_seed_example_command_runs_verbatim_against_a_server(tmp_path, start_simulator, run_cli):
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0)
    result = run_cli("benchmark", "--api-backend", "openai", "--api-base", f"http://localhost:{server.port}",
                     "--api-key", "your-api-key", "--model", "gpt-3.5-turbo", "--task", "text-to-text",
                     "--max-time-per-run", "60", "--max-requests-per-run", "200", "--enable-streaming",
                     "--streaming-port", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Live dashboard: http://127.0.0.1:" in result.stdout
    folder = next((tmp_path / "experiments").iterdir())
    assert folder.name.startswith("openai_text-to-text_gpt-3.5-turbo_")
    runs = [json.loads(p.read_text()) for p in folder.glob("D100_100_*.json")]
    assert sorted(r["aggregated_metrics"]["num_concurrency"] for r in runs) == [1, 2, 4, 8]
    assert all(r["aggregated_metrics"]["num_requests"] == 200 for r in runs)
    assert "your-api-key" not in (folder / "experiment_metadata.json").read_text()


BAD_INPUTS = [
    (["--traffic-scenario", "D(100)"], "invalid traffic scenario"),
    (["--task", "image-to-text"], "--task"),
    (["--additional-request-params", "{bad"], "--additional-request-params is not valid JSON"),
    (["--additional-request-params", "[1]"], "must be a JSON object"),
    (["--max-requests-per-run", "0"], "--max-requests-per-run must be positive"),
    (["--max-time-per-run", "-1"], "--max-time-per-run must be positive"),
    (["--num-concurrency", "0"], "--num-concurrency"),
    (["--num-concurrency", "many"], "--num-concurrency"),
    (["--warmup-ratio", "1.5"], "--warmup-ratio"),
    (["--request-rate", "0"], "--request-rate"),
    (["--request-rate", "fast"], "--request-rate"),
    (["--model-tokenizer", "/nonexistent/dir/tokenizer.json"], "--model-tokenizer"),
    (["--api-base", f"http://127.0.0.1:{free_port()}"], "is unreachable"),
    (["--no-such-option"], "no-such-option"),
    # Once a traceback after the run was measured, and an allocation that ignored Ctrl-C until killed.
    (["--max-time-per-run", "inf"], "--max-time-per-run must be at most 10080 minutes"),
    (["--num-concurrency", "1000000", "--max-requests-per-run", "2"], "needs about 2000064 open files"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message, run_cli):
    result = run_cli("benchmark", *args, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr
    assert not (tmp_path / "experiments").exists()


def test_busy_streaming_port_is_a_one_line_error(run_cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("benchmark", "--enable-streaming", "--streaming-port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --streaming-port") and result.stderr.count("\n") == 1


def test_ctrl_c_writes_partial_results_and_exits_non_zero(tmp_path, cli):
    process = cli("benchmark", "--num-concurrency", "2,4", "--max-requests-per-run", "100000",
                  "--max-time-per-run", "1", "--experiment-folder-name", "exp")
    process.wait_for(r"^Experiment folder:")
    process.wait_for(r"\[run 1/2\].*requests")
    process.interrupt()
    assert process.wait_exit(timeout=30) == 130, process.output
    assert "partial" in process.output
    folder = tmp_path / "experiments" / "exp"
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert metadata["partial"] is True
    run = json.loads((folder / metadata["run_files"][0]).read_text())
    assert run["aggregated_metrics"]["partial"] is True and run["aggregated_metrics"]["num_completed_requests"] > 0


def test_simulate_serves_until_interrupted(tmp_path, cli):
    process = cli("simulate", "--port", "0", "--ttft-ms", "1", "--error-codes", "500,503")
    url = process.wait_for(r"at (http://127\.0\.0\.1:\d+)/v1").group(1)
    body = http_json(f"{url}/v1/models")[1]
    assert body["data"][0]["id"] == "genai-bench-sim"
    process.interrupt()
    assert process.wait_exit(timeout=15) in (0, 130)


@pytest.mark.parametrize("args", [["--error-rate", "2"], ["--workers", "0"]], ids=["error-rate", "workers"])
def test_simulate_rejects_bad_settings_in_one_line(args, run_cli):
    result = run_cli("simulate", "--port", "0", *args)
    assert result.returncode == 2 and result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_keep_serving_serves_results_until_ctrl_c(tmp_path, cli):
    process = cli("benchmark", "--enable-streaming", "--streaming-port", "0", "--keep-serving",
                  "--num-concurrency", "1", "--max-requests-per-run", "3", "--experiment-folder-name", "exp")
    url = process.wait_for(r"Serving the results at (http://\S+) until Ctrl-C").group(1)
    listing = http_json(url.rstrip("/") + "/api/experiments")[1]
    assert listing["experiments"][0]["run_count"] == 1
    process.interrupt()
    assert process.wait_exit(timeout=15) == 0


def test_serve_and_report_commands(tmp_path, cli, finished_experiment, run_cli):
    process = cli("serve", "--experiment-folder", str(finished_experiment), "--port", "0")
    process.wait_for(r"Serving 1 experiment\(s\) at http://127\.0\.0\.1:\d+/")
    process.interrupt()
    assert process.wait_exit(timeout=15) == 0
    result = run_cli("report", "--experiment-folder", str(finished_experiment), "--format", "json",
                     "--output", str(tmp_path / "r.json"))
    assert result.returncode == 0 and result.stdout.startswith("Wrote ")
    assert json.loads((tmp_path / "r.json").read_text())["experiments"][0]["summary"]["run_count"] == 2
    bad = run_cli("report", "--experiment-folder", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --experiment-folder")


def test_simulate_workers_share_the_port_and_stop_together(tmp_path, cli):
    process = cli("simulate", "--port", "0", "--workers", "2", "--ttft-ms", "1")
    url = process.wait_for(r"at (http://127\.0\.0\.1:\d+)/v1, 2 processes").group(1)
    ids = []
    for _ in range(40):  # the kernel spreads new connections over both processes
        ids.append(http_json(f"{url}/v1/completions", "POST", {"prompt": "hi", "max_tokens": 1})[1]["id"])
    assert len(set(ids)) < len(ids)  # each process numbers its own answers: one process alone never repeats an id
    worker = psutil.Process(process.pid).children()
    assert len(worker) == 1 and "simulate-worker" in " ".join(worker[0].cmdline())
    process.interrupt()
    assert process.wait_exit(timeout=15) in (0, 130)
    worker[0].wait(timeout=10)  # the extra process ends with its parent


def invoke(*args: str):
    """`genai-bench ARGS` in this process (for what is not about the process itself): exit code, stdout, stderr."""
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", ["simulate", "serve --experiment-folder ."])
def test_a_port_no_socket_can_have_is_one_line(command):
    result = invoke(*command.split(), "--port", "70000")
    assert result.exit_code == 2
    assert result.stderr == "Error: --port must be between 0 and 65535 (0 picks a free port), got 70000\n"


def test_report_to_an_unwritable_place_is_one_line(finished_experiment):
    result = invoke("report", "--experiment-folder", str(finished_experiment), "--output", "/proc/nope/r.html")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --output /proc/nope/r.html: cannot write the report (No such file")
    assert result.stderr.count("\n") == 1


def test_the_api_base_shown_on_stdout_hides_its_credentials(tmp_path, fast_simulator):
    api_base = f"http://user:hunter2@127.0.0.1:{fast_simulator.port}?api_key=s3cret"
    result = invoke("benchmark", "--api-base", api_base, "--num-concurrency", "1", "--max-requests-per-run", "2",
                    "--experiment-base-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"Benchmarking http://***@127.0.0.1:{fast_simulator.port}?api_key=*** (model genai-bench-sim)" in result.stdout
    assert "hunter2" not in result.output and "s3cret" not in result.output


def test_open_loop_time_limit_holds_when_the_next_send_time_lies_beyond_it(tmp_path, cli):
    # One request is due at once, the next only after 100 s: the run must still end at its 3 s limit.
    process = cli("benchmark", "--request-rate", "0.01", "--arrival", "constant", "--max-time-per-run", "0.05",
                  "--experiment-folder-name", "exp")
    process.wait_for(r"^\[run 1/1\]")
    assert process.wait_exit(timeout=10) == 0, process.output
    metadata = json.loads((tmp_path / "experiments" / "exp" / "experiment_metadata.json").read_text())
    assert metadata["partial"] is False and len(metadata["run_files"]) == 1


def test_ctrl_c_ends_an_open_loop_run_waiting_for_its_next_send_time(tmp_path, cli):
    process = cli("benchmark", "--request-rate", "0.01", "--arrival", "constant", "--max-time-per-run", "1",
                  "--experiment-folder-name", "exp")
    process.wait_for(r"^\[run 1/1\].* 1/100 requests")
    process.interrupt()
    assert process.wait_exit(timeout=4) == 130, process.output
    metadata = json.loads((tmp_path / "experiments" / "exp" / "experiment_metadata.json").read_text())
    assert metadata["partial"] is True
