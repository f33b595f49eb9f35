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
