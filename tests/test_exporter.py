"""/metrics in Prometheus text format: scraped during a real run and parsed by prometheus_client's own parser, its
counts equal to the run files' at the end; one registry per app."""

from __future__ import annotations

from collections import Counter

import gevent
import orjson
from geventhttpclient import HTTPClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from genai_bench.config import BenchmarkConfig
from genai_bench.events import EventBus
from genai_bench.exporter import LiveMetricsExporter
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun
from genai_bench.protocol import RequestRecord
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from genai_bench.simulator import SimulatorConfig, SimulatorServer
from genai_bench.web import create_app


def scrape(url: str) -> dict:
    """{family name: [samples]} of one GET /metrics, parsed by prometheus_client."""
    client = HTTPClient.from_url(url, connection_timeout=5, network_timeout=5)
    try:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response["content-type"].startswith("text/plain; version=")
        text = response.read().decode()
    finally:
        client.close()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def requests_by_load(families: dict) -> Counter:
    """Requests per (scenario, concurrency), every status summed."""
    counts: Counter = Counter()
    for sample in families["genai_bench_requests"]:
        if sample.name == "genai_bench_requests_total":
            counts[(sample.labels["scenario"], sample.labels["concurrency"])] += sample.value
    return counts


def test_metrics_during_a_run_and_counts_equal_to_the_run_files_at_the_end(tmp_path):
    with SimulatorServer(SimulatorConfig(ttft_ms=5.0, itl_ms=2.0, error_rate=0.2, seed=2)).start() as simulator:
        session = BenchmarkSession(BenchmarkConfig(
            api_base=simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[2, 4],
            max_requests_per_run=40, experiment_base_dir=str(tmp_path), experiment_folder_name="m",
            enable_streaming=True, streaming_port=0, slo={"ttft": 0.5, "e2e_latency": 5.0}, seed=5))
        session.start()
        url = session.dashboard_url
        during: list[dict] = []

        def poll() -> None:
            for _ in range(400):
                families = scrape(url)
                if sum(requests_by_load(families).values()):
                    during.append(families)
                gevent.sleep(0.02)

        poller = gevent.spawn(poll)
        session.run(handle_signals=False)
        poller.kill()
        after = scrape(url)
        session.close()
    assert during, "no scrape saw a request while the benchmark ran"
    assert "genai_bench_in_flight_requests" in during[0]
    files = {}
    for path in session.folder.glob("*_num_concurrency_*.json"):
        document = orjson.loads(path.read_bytes())
        records = document["individual_request_metrics"]
        files[(records[0]["scenario"], str(records[0]["concurrency"]))] = records
    assert requests_by_load(after) == {load: len(records) for load, records in files.items()}
    statuses = Counter(s.labels["status"] for s in after["genai_bench_requests"] for _ in range(int(s.value)))
    errors = Counter(str(r["error_code"]) for records in files.values() for r in records if r["error_code"])
    assert errors and {status: n for status, n in statuses.items() if status != "ok"} == errors
    ok = sum(1 for records in files.values() for r in records if not r["error_code"])
    e2e_count = sum(s.value for s in after["genai_bench_e2e_latency_seconds"] if s.name.endswith("_count"))
    assert e2e_count == ok
    tokens = sum(s.value for s in after["genai_bench_output_tokens"])
    assert tokens == sum(r["num_output_tokens"] for records in files.values() for r in records if not r["error_code"])
    itl = [s for s in after["genai_bench_itl_seconds"] if s.name.endswith("_count")]
    assert sum(s.value for s in itl) == sum(len(r["itl"]) for records in files.values() for r in records
                                             if not r["error_code"])
    assert 0 < sum(s.value for s in after["genai_bench_goodput_requests"]) <= ok
    labels = after["genai_bench_requests"][0].labels
    assert labels["experiment"] == "m" and labels["request_rate"] == ""


def record(start: float, ok: bool = True) -> RequestRecord:
    chunks = [start + 0.1 + 0.01 * i for i in range(5)]
    from array import array

    return RequestRecord("D(1,1)", 1, 10, 5, start=start, first_token=chunks[0], end=chunks[-1],
                         chunk_times=array("d", chunks), num_output_tokens=5, status_code=200 if ok else 500,
                         error_code=None if ok else "500")


def test_each_app_has_its_own_registry():
    apps = {}
    for name, count in (("first", 3), ("second", 5)):
        hooks = SweepHooks()
        exporter = LiveMetricsExporter(name)
        exporter.attach(hooks)
        run = PlannedRun("D(1,1)", 1, None, 1, 1, "k", 60.0, None)
        hooks.run_started.fire(run=run, start_time=0.0)
        for i in range(count):
            hooks.request_finished.fire(record=record(0.0, ok=i != 0), completed=i, errors=1, total=i + 1)
        apps[name] = create_app(EventBus(), metrics=exporter.registry).test_client()
    for name, count in (("first", 3), ("second", 5)):
        families = {f.name: f for f in text_string_to_metric_families(apps[name].get("/metrics").data.decode())}
        samples = families["genai_bench_requests"].samples
        assert {s.labels["experiment"] for s in samples} == {name}
        assert sum(s.value for s in samples if s.name.endswith("_total")) == count
        ttft = {s.labels.get("le"): s.value for s in families["genai_bench_ttft_seconds"].samples
                if s.name.endswith("_bucket")}
        # TTFT 0.1 s exactly: in the le="0.1" bucket (le is inclusive); the error has no TTFT.
        assert ttft["0.075"] == 0 and ttft["0.1"] == count - 1 and ttft["+Inf"] == count - 1


def test_serve_answers_metrics_with_no_series():
    text = create_app(EventBus(), mode="serve").test_client().get("/metrics").data.decode()
    assert list(text_string_to_metric_families(text)) == []
    assert generate_latest(LiveMetricsExporter("x").registry)  # an idle exporter is valid too


def test_the_grafana_dashboard_reads_series_the_exporter_writes():
    import json
    import re
    from pathlib import Path

    hooks = SweepHooks()
    exporter = LiveMetricsExporter("g", slo={"ttft": 1.0})
    exporter.attach(hooks)
    hooks.run_started.fire(run=PlannedRun("D(1,1)", 1, None, 1, 1, "k", 60.0, None), start_time=0.0)
    hooks.request_finished.fire(record=record(0.0), completed=1, errors=0, total=1)
    written = {s.name for f in text_string_to_metric_families(generate_latest(exporter.registry).decode())
               for s in f.samples}
    dashboard = json.loads((Path(__file__).parent.parent / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    read = {name for expr in exprs for name in re.findall(r"genai_bench_\w+", expr)}
    assert len(read) >= 8 and read <= written, read - written
