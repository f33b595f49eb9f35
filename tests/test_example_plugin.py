"""examples/plugin, pip-installed into a folder on the children's PYTHONPATH the way a user installs a plugin, is
found and used: `genai-bench plugins` lists its entry points, `--task example-json` benchmarks its JSON API server
with the right counts, its sink writes every event to events.csv, and its panel draws on the live page in Chromium
at a phone's size; a broken plugin next to it is reported in one line and skipped."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.support.plugins import install_example_plugin, write_distribution
from tests.support.processes import REPO_ROOT, child_environment, genai_bench_command

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
REQUESTS = 24
OUTPUT_TOKENS = 30
PANEL = "#plugin-panel-requests-in-flight"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """PYTHONPATH for children: this checkout, the installed example plugin, and a broken plugin."""
    base = tmp_path_factory.mktemp("plugins")
    installed = install_example_plugin(base / "site", base)
    broken = write_distribution(base / "broken", "broken-plugin", {"genai_bench.sinks": {"broken-sink": "broken_sink:make"}},
                                {"broken_sink": "raise ImportError('this plugin is broken on purpose')\n"})
    # A panel whose script fails on every event: its card says so, the page and the other panels carry on.
    script = base / "faulty" / "faulty_static" / "faulty.js"
    script.parent.mkdir(parents=True)
    script.write_text("window.genaiPanels.register({name: 'faulty-panel', mount: function (el) {},"
                      " onEvent: function (event) { throw new Error('faulty panel on ' + event.event_type); }});\n")
    write_distribution(base / "faulty", "faulty-panel", {"genai_bench.panels": {"faulty-panel": "faulty_panel:PANEL"}},
                       {"faulty_panel": f"PANEL = {{'title': 'Faulty', 'events': ['metrics'], 'script': {str(script)!r}}}\n"})
    return os.pathsep.join([str(REPO_ROOT), str(installed), str(broken), str(base / "faulty")])


def test_plugins_command_lists_the_example_and_names_the_broken_one(plugin_path):
    result = subprocess.run(genai_bench_command("plugins"), env=child_environment({"PYTHONPATH": plugin_path}),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.startswith("  ")
              and "(none" not in line}
    assert listed["example-json"] == listed["csv-events"] == listed["requests-in-flight"] == "genai-bench-example-plugin"
    assert "text-to-text" in listed  # the built-ins are listed with the plugins' tasks
    assert result.stderr.strip().splitlines() == [
        "Warning: plugin 'broken-sink' (genai_bench.sinks) failed to load and is skipped: "
        "ImportError: this plugin is broken on purpose"]


def canvas_painted(page) -> int:
    """Pixels the example panel's canvas has drawn (not transparent)."""
    return page.evaluate(f"""() => {{
        const canvas = document.querySelector('{PANEL} canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return painted;
    }}""")


def test_example_backend_sink_and_panel_in_a_live_benchmark(plugin_path, child_processes, tmp_path, browser):
    env = {"PYTHONPATH": plugin_path}
    api = child_processes([sys.executable, "-m", "genai_bench_example_plugin.server", "--port", "0",
                           "--ttft", "0.02", "--itl", "0.01"], env=env)
    api_url = api.wait_for(r"Example JSON LLM API at (http://\S+)", 20).group(1)
    bench = child_processes(genai_bench_command(
        "benchmark", "--task", "example-json", "--api-base", api_url, "--model", "demo",
        "--traffic-scenario", f"D(50,{OUTPUT_TOKENS})", "--num-concurrency", "1,2",
        "--max-requests-per-run", str(REQUESTS), "--server-metrics", "off", "--experiment-base-dir", str(tmp_path),
        "--experiment-folder-name", "exp", "--enable-streaming", "--streaming-port", "0"), env=env)
    url = bench.wait_for(r"Live dashboard: (http://\S+)", 30).group(1)

    context = browser.new_context(**PHONE, bypass_csp=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector(f"{PANEL} canvas", timeout=20_000)
        page.wait_for_function("window.genaiPanels.mounted().length === 2")
        assert sorted(page.evaluate("window.genaiPanels.mounted()")) == ["faulty-panel", "requests-in-flight"]
        assert page.locator(f"{PANEL} figcaption").inner_text() == "Requests/s and errors (example plugin)"
        page.wait_for_function(f"Number(document.querySelector('{PANEL} .example-panel-figures')"
                               ".getAttribute('data-updates') || 0) >= 3", timeout=30_000)
        first = page.locator(f"{PANEL} .example-panel-figures").get_attribute("data-updates")
        assert "req/s" in page.locator(f"{PANEL} .example-panel-figures").inner_text()
        assert canvas_painted(page) > 100
        page.wait_for_function(f"document.querySelector('{PANEL} .example-panel-figures')"
                               f".getAttribute('data-updates') !== '{first}'", timeout=20_000)  # it keeps updating
        faulty = page.locator("#plugin-panel-faulty-panel .plugin-panel-error")
        assert faulty.is_visible() and faulty.inner_text() == "panel error: faulty panel on metrics"
        # The phone layout holds with the panel: no sideways scroll, the card within the screen.
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        box = page.locator(PANEL).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert not errors, errors
    finally:
        context.close()

    bench.wait_for(r"Results written to", 90)
    assert bench.wait_exit(30) == 0
    assert any("'broken-sink'" in line and "skipped" in line for line in bench.lines)  # reported, the run went on
    folder = tmp_path / "exp"
    runs = sorted(folder.glob("D50_30_example-json_num_concurrency_*.json"))
    assert len(runs) == 2
    for run in runs:
        aggregated = json.loads(run.read_text())["aggregated_metrics"]
        assert (aggregated["num_requests"], aggregated["num_completed"], aggregated["num_errors"]) == (REQUESTS, REQUESTS, 0)
        assert aggregated["total_output_tokens"] == REQUESTS * OUTPUT_TOKENS  # the server's own counts
        assert 0.015 < aggregated["stats"]["ttft"]["p50"] < 0.5  # about the server's 20 ms

    events = [json.loads(line) for line in (folder / "events.ndjson").read_text().splitlines()]
    with open(folder / "events.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["id"]), r["event_type"]) for r in rows] == [(e["id"], e["event_type"]) for e in events]
    assert [json.loads(r["data"]) for r in rows] == [e["data"] for e in events]
    assert {"run_started", "metrics", "run_completed", "benchmark_completed"} <= {r["event_type"] for r in rows}
