"""The §7.1 dashboards driven by a sweep's hooks: the terminal prints from the live events' data."""

import io

from genai_bench.config import BenchmarkConfig
from genai_bench.dashboard import DashboardListener, NoOpDashboard, TerminalDashboard
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession


def test_terminal_prints_one_line_per_run_with_its_place_in_the_sweep(tmp_path, fast_simulator):
    out = io.StringIO()
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                             concurrencies=[1, 2], max_requests_per_run=4, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp")
    BenchmarkSession(config, TerminalDashboard(out, line_interval=3600)).run(handle_signals=False)
    runs = [line for line in out.getvalue().splitlines() if ": 4 ok," in line]
    assert [line.split("]")[0] for line in runs] == ["[run 1/2", "[run 2/2"]
    assert "D(20,10) concurrency 2: 4 ok, 0 errors" in runs[1]


def test_any_dashboard_receives_the_interface_calls(tmp_path, fast_simulator):
    class Recording(NoOpDashboard):
        def __init__(self):
            super().__init__()
            self.calls = []

        def start_run(self, run_time, start_time, max_requests_per_run):
            self.calls.append(("start_run", run_time, max_requests_per_run))

        def update_scatter_plot_panel(self, points):
            self.calls.append(("scatter", [p["concurrency"] for p in points]))

        def handle_single_request(self, live_metrics, total_requests, error_code):
            self.calls.append(("request", total_requests, error_code))

    dashboard = Recording()
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                             concurrencies=[1, 3], max_requests_per_run=2, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp")
    session = BenchmarkSession(config)
    DashboardListener(dashboard).attach(session.hooks)
    session.run(handle_signals=False)
    # 12.0: the default --max-time-per-run of 0.2 minutes, in seconds.
    assert dashboard.calls == [
        ("start_run", 12.0, 2), ("request", 1, None), ("request", 2, None), ("scatter", [1]),
        ("start_run", 12.0, 2), ("request", 1, None), ("request", 2, None), ("scatter", [1, 3]),
    ]
    assert [run["num_concurrency"] for run in dashboard.get_historical_data()] == [1, 3]
