"""--static-url (web/static_url.py): the page's CSS and JS from a mirror of static/, each pinned by a sha384
integrity hash of the local file; the default stays local. The browser tests load the page in Chromium from a real
static server (a copy of static/), once intact and once with a tampered file that the browser must refuse."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import sys

import pytest

from genai_bench.config import ConfigError
from genai_bench.events import EventBus
from genai_bench.web import create_app
from tests.support.processes import REPO_ROOT, genai_bench_command

STATIC = REPO_ROOT / "static"
CDN = "https://cdn.example.com/genai-bench/static"


def sha384(path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_default_page_loads_its_assets_locally_without_integrity_attributes():
    response = create_app(EventBus()).test_client().get("/")
    page = response.get_data(as_text=True)
    assert 'src="/static/js/common.js"' in page and "integrity=" not in page
    assert "cdn" not in response.headers["Content-Security-Policy"]


def test_static_url_pins_every_asset_to_the_local_files_hash():
    response = create_app(EventBus(), static_url=CDN + "/").test_client().get("/")
    page = response.get_data(as_text=True)
    tags = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)" integrity="([^"]+)" crossorigin="anonymous"',
                      page)
    assert len(tags) >= 15  # the stylesheet, Chart.js and every page script
    for url, integrity in tags:
        assert url.startswith(CDN + "/") and integrity == sha384(STATIC / url[len(CDN) + 1:])
    assert 'src="/static/' not in page and 'href="/static/' not in page  # nothing left loading from this server
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://cdn.example.com" in policy and "style-src 'self' https://cdn.example.com" in policy


@pytest.mark.parametrize("url", ["cdn.example.com/static", "ftp://cdn.example.com/static", "https://cdn/x?v=1"])
def test_a_bad_static_url_is_a_one_line_error(url):
    with pytest.raises(ConfigError, match=r"^--static-url .*(http\(s\) URL|no query)"):
        create_app(EventBus(), static_url=url)


def test_the_cli_refuses_a_bad_static_url_in_one_line(run_cli):
    result = run_cli("benchmark", "--enable-streaming", "--static-url", "not-a-url", "--max-requests-per-run", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: --static-url 'not-a-url': give an http(s) URL such as https://cdn.example.com/genai-bench/static"]


def start_static_server(child_processes, folder):
    child = child_processes([sys.executable, "-m", "tests.support.static_server", str(folder)], cwd=REPO_ROOT)
    return child, child.wait_for(r"Static files at (http://\S+)", 20).group(1)


def serve_with_static_url(child_processes, experiment, static_url):
    child = child_processes(genai_bench_command("serve", "--port", "0", "--experiment-folder", str(experiment),
                                                "--static-url", static_url))
    return child.wait_for(r"Serving \d+ experiment\(s\) at (http://\S+?/)", 20).group(1)


def test_the_page_runs_from_a_static_mirror(child_processes, finished_experiment, tmp_path, browser):
    shutil.copytree(STATIC, tmp_path / "static")
    mirror, mirror_url = start_static_server(child_processes, tmp_path)
    url = serve_with_static_url(child_processes, finished_experiment, mirror_url + "/static")
    # Under the page's own Content-Security-Policy (not bypassed): it must allow the mirror's scripts and styles.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("#results-root[data-ready=true]")  # a selector: the policy forbids eval'd conditions
        assert page.locator(".rv-chart canvas").first.is_visible()
        assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).position") == "sticky"  # the CSS
        loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert f"{mirror_url}/static/js/common.js" in loaded and f"{mirror_url}/static/css/dashboard.css" in loaded
        assert not any("/static/" in name and not name.startswith(mirror_url) for name in loaded)
        mirror.wait_for(r"GET /static/js/results-view\.js", 10)  # the mirror served it
        assert not errors, errors
    finally:
        context.close()


def test_a_tampered_asset_is_refused_by_the_browser(child_processes, finished_experiment, tmp_path, browser):
    copy = shutil.copytree(STATIC, tmp_path / "static")
    with open(copy / "js" / "common.js", "a") as tampered:
        tampered.write("\nwindow.genaiTampered = true;\n")
    _, mirror_url = start_static_server(child_processes, tmp_path)
    url = serve_with_static_url(child_processes, finished_experiment, mirror_url + "/static")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        assert page.evaluate("window.genaiTampered") is None  # the modified script never ran
        assert page.evaluate("typeof window.GenaiCommon") == "undefined"
        assert any("integrity" in line and "common.js" in line for line in console), console
        # The untouched files still pass their check.
        assert page.evaluate("typeof window.Chart") == "function"
    finally:
        context.close()


def test_gunicorn_app_takes_the_static_url_from_its_environment():
    from genai_bench.deployment import ENV_STATIC_URL, app_from_environment

    page = app_from_environment({ENV_STATIC_URL: CDN}).test_client().get("/").get_data(as_text=True)
    assert f'src="{CDN}/js/common.js" integrity="{sha384(STATIC / "js" / "common.js")}"' in page
