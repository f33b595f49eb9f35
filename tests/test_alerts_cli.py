"""`genai-bench benchmark --alert ...` as a user runs it: one-line errors, a dead webhook that changes nothing,
--alert-action stop, and the interruption notice."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import genai_bench_command
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("args, says", [
    (["--alert", "ttt.p99>5ms"], "--alert 'ttt.p99>5ms': unknown metric ttt.p99 (did you mean ttft.p99?); metrics: "),
    (["--alert", "ttft.p99>500"], "ttft.p99 is a duration; give the threshold in ms or s"),
    (["--alert", "goodput<10"], "give them with --slo"),
    (["--alert-webhook", "hooks.example.com/x"], "--alert-webhook takes an http:// or https:// URL"),
    (["--alert-action", "stop"], "give an --alert rule"),
])
def test_bad_alert_options_are_one_line_errors(run_cli, tmp_path, args, says):
    done = run_cli("benchmark", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ") and says in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "experiments").exists()


def test_a_webhook_refusing_connections_never_stops_the_run(run_cli, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/services/T0/B0/secret"
    done = run_cli("benchmark", "--num-concurrency", "1,2", "--max-requests-per-run", "6", "--alert", "ttft.p50>1ms",
                   "--alert-webhook", dead, "--experiment-folder-name", "exp")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Alert firing: ttft.p50>1ms" in output
    # Logged once for the whole failure burst (the alert's and the end's notices), without the secret path.
    assert output.count("failed after 4 attempt(s)") == 1 and "secret" not in output
    metadata = json.loads((tmp_path / "experiments" / "exp" / "experiment_metadata.json").read_text())
    assert len(metadata["run_files"]) == 2 and metadata["partial"] is False


def test_alert_action_stop_ends_the_benchmark_marked_stopped_by_alert(run_cli, tmp_path, webhook):
    receiver = webhook()
    done = run_cli("benchmark", "--num-concurrency", "1,2,4", "--max-requests-per-run", "400", "--max-time-per-run", "1",
                   "--alert", "ttft.p50>1ms", "--alert-action", "stop", "--alert-webhook", receiver.url,
                   "--experiment-folder-name", "exp")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Stopped by alert ttft.p50>1ms: the results above are partial." in done.stderr
    folder = tmp_path / "experiments" / "exp"
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert (metadata["stopped_by_alert"], metadata["partial"], len(metadata["run_files"])) == ("ttft.p50>1ms", True, 1)
    run = json.loads((folder / metadata["run_files"][0]).read_text())
    assert run["stopped_by_alert"] == "ttft.p50>1ms" and run["aggregated_metrics"]["partial"] is True
    assert run["aggregated_metrics"]["num_requests"] < 400
    events = [json.loads(line) for line in (folder / "events.ndjson").read_text().splitlines()]
    last_status = [e["data"] for e in events if e["event_type"] == "status"][-1]
    assert (last_status["status"], last_status["stopped_by_alert"]) == ("stopped", "ttft.p50>1ms")
    alert, resolved, end = receiver.messages
    assert alert["alert"]["action"] == "stop" and "stopping the benchmark" in alert["text"]
    # Still firing when the benchmark ended: resolved then, so the page's banner and the files do not keep it firing.
    assert (resolved["alert"]["state"], resolved["alert"]["reason"]) == ("resolved", "benchmark ended")
    assert metadata["alerts"] == [alert["alert"], resolved["alert"]]
    assert (end["status"], end["stopped_by_alert"]) == ("stopped", "ttft.p50>1ms")
    assert "was stopped by alert ttft.p50>1ms: 1 run" in end["text"] and end["link"] == "experiments/exp"


def test_an_interrupted_benchmark_announces_it_with_the_dashboard_link(child_processes, tmp_path, webhook):
    receiver = webhook()
    child = child_processes(genai_bench_command(
        "benchmark", "--num-concurrency", "1", "--max-requests-per-run", "1000", "--max-time-per-run", "1",
        "--enable-streaming", "--streaming-port", "0", "--alert-webhook", receiver.url))
    url = child.wait_for(r"Live dashboard: (http://\S+)", 20).group(1)
    child.wait_for(r"\[run 1/1\].*requests", 30)
    child.interrupt()
    assert child.wait_exit(30) == 130
    [end] = receiver.messages
    assert (end["status"], end["link"]) == ("stopped", url)
    assert end["text"].startswith("genai-bench benchmark of genai-bench-sim was interrupted: 1 run, ")
    assert end["text"].endswith(f"Results: {url}")
