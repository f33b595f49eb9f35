"""Panels from plugins on the live page (web/panels.py): listed for live-panels.js, their folder served at
/plugins/<name>/, nothing else reachable through that route."""

from __future__ import annotations

import html
import json
import re

import pytest

from genai_bench.events import EventBus
from genai_bench.plugins import PANELS_GROUP
from genai_bench.web import create_app
from tests.support.plugins import write_distribution

TITLE = "My 'panel' <img src=x onerror=alert(1)>"  # shown as text, never as markup


@pytest.fixture
def client(tmp_path, monkeypatch):
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "panel.js").write_text("window.genaiPanels.register({name: 'my-panel'});\n")
    (assets / "extra.css").write_text(".x {}\n")
    (tmp_path / "secret.txt").write_text("not for the page\n")
    source = f"PANEL = {{'title': TITLE, 'events': ['metrics'], 'script': {str(assets / 'panel.js')!r}}}\n"
    folder = write_distribution(tmp_path / "dist", "panel-plugin", {PANELS_GROUP: {"my-panel": "panel_mod:PANEL"}},
                                {"panel_mod": f"TITLE = {TITLE!r}\n" + source})
    monkeypatch.syspath_prepend(str(folder))
    return create_app(EventBus()).test_client()


def test_the_page_lists_the_panel_and_loads_its_script_after_the_api(client):
    page = client.get("/").get_data(as_text=True)
    listed = json.loads(html.unescape(re.search(r"data-panels='([^']*)'", page).group(1)))
    assert listed == [{"name": "my-panel", "title": TITLE, "events": ["metrics"], "script": "panel.js"}]
    assert "<img" not in page and "'panel'" not in page
    assert page.index("js/live-panels.js") < page.index('src="/plugins/my-panel/panel.js"')


def test_the_panel_folder_is_served_and_nothing_outside_it(client):
    response = client.get("/plugins/my-panel/panel.js")
    assert response.status_code == 200 and b"genaiPanels.register" in response.data
    assert "javascript" in response.headers["Content-Type"]
    assert client.get("/plugins/my-panel/extra.css").status_code == 200
    assert client.get("/plugins/my-panel/../secret.txt").status_code == 404
    assert client.get("/plugins/my-panel/%2e%2e/secret.txt").status_code == 404
    missing = client.get("/plugins/other/panel.js")
    assert missing.status_code == 404 and "no panel plugin named 'other'" in missing.get_json()["error"]["message"]


def test_without_panels_the_page_lists_none():
    page = create_app(EventBus()).test_client().get("/").get_data(as_text=True)
    assert "data-panels='[]'" in page


# ---------------------------------------------------------------- replayed to a panel on a page opened mid-run

RECORDER = """window.genaiPanels.register({
  name: "recorder",
  mount: function (el) { window.recorded = []; el.textContent = "0 events"; this.el = el; },
  onEvent: function (event) {
    window.recorded.push([event.id, event.event_type]);
    this.el.textContent = window.recorded.length + " events";
  },
});
"""


def publish_metrics(publisher, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        publisher.update_metrics_panels({"scenario": "D(10,10)", "elapsed": 1.0 + index,
                                         "requests_per_second": 2.0 + index, "stats": {"ttft": {"p50": 0.04}}})


@pytest.mark.slow
def test_a_page_opened_mid_run_replays_the_panels_events_so_far_then_live_ones_once(
        tmp_path, monkeypatch, dashboard_server, page):
    script = tmp_path / "assets" / "recorder.js"
    script.parent.mkdir()
    script.write_text(RECORDER)
    folder = write_distribution(tmp_path / "dist", "recorder-plugin", {PANELS_GROUP: {"recorder": "recorder_mod:PANEL"}}, {
        "recorder_mod": f"PANEL = {{'title': 'Recorder', 'events': ['metrics', 'alert'], 'script': {str(script)!r}}}\n"})
    monkeypatch.syspath_prepend(str(folder))
    publisher, server = dashboard_server()
    publisher.update_benchmark_status(status="running", current_scenario="D(10,10)", total_iterations=1)
    publish_metrics(publisher, 5)
    publisher.add_log_message("not a type the panel declares")
    publisher.bus.publish("alert", {"state": "firing", "rule": "ttft.p50>1ms", "metric": "ttft.p50",
                                    "text": "Alert firing: ttft.p50>1ms", "t": 1.0, "since": 1.0})
    publish_metrics(publisher, 2, start=5)
    expected = [[e.id, e.event_type] for e in publisher.bus.history if e.event_type in ("metrics", "alert")]
    assert len(expected) == 8

    page.goto(server.url)
    page.wait_for_function("window.recorded && window.recorded.length >= 8")
    assert page.evaluate("window.recorded") == expected  # the run so far, in order, and nothing else
    assert page.locator("#plugin-panel-recorder .plugin-panel-body").inner_text() == "8 events"
    publish_metrics(publisher, 3, start=7)  # live now: each once, after the replayed ones
    expected += [[e.id, "metrics"] for e in list(publisher.bus.history)[-3:]]
    page.wait_for_function("window.recorded.length >= 11")
    page.wait_for_timeout(300)  # nothing more arrives (no event twice)
    assert page.evaluate("window.recorded") == expected
