"""Who may use the dashboard: empty tokens refused, the Host check (DNS rebinding), the token cookie, warnings when
exposed, security headers, and the page under its Content-Security-Policy in Chromium."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pytest
import websocket

from genai_bench.config import ConfigError
from genai_bench.deployment import app_from_environment
from genai_bench.events import EventBus
from genai_bench.web import create_app
from tests.web.test_api import get, get_json


@pytest.mark.parametrize("token", ["", "  "])
def test_an_empty_token_is_refused(token):
    with pytest.raises(ConfigError, match="streaming token is empty"):
        create_app(EventBus(), token=token)
    with pytest.raises(ConfigError, match="GENAI_BENCH_STREAMING_TOKEN"):
        app_from_environment({"GENAI_BENCH_STREAMING_TOKEN": token})


@pytest.mark.parametrize("args,env", [
    (["serve", "--experiment-folder", "{folder}", "--port", "0", "--streaming-token", ""], {}),
    (["serve", "--experiment-folder", "{folder}", "--port", "0"], {"GENAI_BENCH_STREAMING_TOKEN": ""}),
    (["benchmark", "--enable-streaming", "--streaming-port", "0", "--streaming-token", ""], {}),
    (["benchmark", "--num-concurrency", "1", "--max-requests-per-run", "1"], {"GENAI_BENCH_STREAMING_TOKEN": ""}),
])
def test_the_cli_refuses_an_empty_token(cli, finished_experiment, args, env):
    child = cli(*[a.format(folder=finished_experiment) for a in args], env=env)
    assert child.wait_exit(timeout=30) == 2
    assert child.lines[-1].startswith("Error: the streaming token is empty") and len(child.lines) == 1


def host_status(client, host: str, path: str = "/api/status", headers: dict | None = None) -> int:
    """The status of a GET naming this Host."""
    return get(client, path, {"Host": host, **(headers or {})})[0]


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "10.1.2.3:8080",
                                  "LOCALHOST.:80", "[fe80::1]"])
def test_loopback_names_and_addresses_are_accepted(live_app, host):
    _, client = live_app()
    assert host_status(client, host) == 200


@pytest.mark.parametrize("path", ["/", "/api/status", "/api/experiments", "/static/js/common.js"])
def test_other_host_names_are_refused_without_a_token(live_app, path):
    _, client = live_app()
    status, body = get_json(client, path, {"Host": "rebind.attacker.example:8080"})
    assert status == 403 and body["error"]["code"] == 403 and "--streaming-allowed-hosts" in body["error"]["message"]


def test_a_rebound_websocket_is_refused(dashboard_server):
    _, server = dashboard_server()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", host="rebind.attacker.example", timeout=5)
    assert refused.value.status_code == 403


def test_allowed_hosts_and_the_bound_name_are_accepted():
    client = create_app(EventBus(), allowed_hosts=["0.0.0.0", "dash.example,box.lan", "bench-host"]).test_client()
    assert [host_status(client, h) for h in ("dash.example", "box.lan:80", "bench-host", "other.example")] == \
        [200, 200, 200, 403]
    anyone = create_app(EventBus(), allowed_hosts=["*"]).test_client()
    assert host_status(anyone, "other.example") == 200


def test_with_a_token_any_host_gets_in_with_it_and_none_without(live_app):
    _, client = live_app(token="t0ken")
    assert host_status(client, "dash.attacker.example") == 401
    assert host_status(client, "localhost") == 401
    assert host_status(client, "dash.attacker.example", headers={"Authorization": "Bearer t0ken"}) == 200


def test_allowed_hosts_from_the_environment():
    client = app_from_environment({"GENAI_BENCH_ALLOWED_HOSTS": "dash.example"}).test_client()
    assert host_status(client, "dash.example") == 200 and host_status(client, "other.example") == 403


def test_the_token_becomes_a_cookie_and_never_a_url_on_the_page(live_app):
    _, client = live_app(token="s3cret")
    with client.get("/?token=s3cret") as response:
        assert response.status_code == 200
        assert "s3cret" not in response.get_data(as_text=True)
        cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("genai_bench_token_80=s3cret;")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert get(client, "/api/state")[0] == 200  # the test client sends the cookie back, like the page's requests
    client.set_cookie("genai_bench_token_80", "wrong")
    assert get(client, "/api/state")[0] == 401
    with client.get("/api/status", headers={"Authorization": "Bearer s3cret"}) as response:
        assert response.status_code == 200  # headers still work for curl and EventSource clients


@pytest.mark.parametrize("path", ["/", "/api/status", "/api/nope", "/static/js/common.js", "/healthz"])
def test_every_response_carries_the_security_headers(live_app, path):
    _, client = live_app()
    with client.get(path) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_report_download_alone_may_run_its_inline_scripts(serve_app, finished_experiment):
    client = serve_app()
    experiment_id = get_json(client, "/api/experiments")[1]["experiments"][0]["id"]
    with client.get(f"/api/experiments/{experiment_id}/report.html") as response:
        assert response.headers["Content-Disposition"].startswith("attachment;")
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'unsafe-inline'" in policy and "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
    with client.get(f"/api/experiments/{experiment_id}/report.csv") as response:
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def wait_until(page, expression: str, timeout: float = 20.0) -> None:
    """Poll `expression` from outside the page: Playwright's own polling uses eval, which the policy forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(100)


@pytest.mark.parametrize("mode", ["live", "serve"])
def test_the_page_renders_under_its_policy_with_no_violation(browser, dashboard_server, finished_experiment, mode):
    from genai_bench.results import ExperimentLibrary
    from genai_bench.web.server import DashboardServer
    from tests.web.test_api import run_one

    if mode == "live":
        publisher, server = dashboard_server(token="t0ken")
        run_one(publisher)
        url = server.url + "?token=t0ken"
    else:
        app = create_app(EventBus(), ExperimentLibrary([finished_experiment]), mode="serve")
        server = DashboardServer(app, port=0).start()
        url = server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        console_errors: list[str] = []
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: console_errors.append(str(exc)))
        page.add_init_script(RECORD_VIOLATIONS)
        page.goto(url)
        wait_until(page, "typeof window.Chart === 'function'")
        if mode == "live":
            wait_until(page, "window.genaiDashboard.connection() === 'live'")
            assert "token" not in page.url  # taken out of the address bar; the cookie carries it
        else:  # the results view, its curves and a run's drill-down
            wait_until(page, "document.getElementById('results-root').dataset.ready === 'true'")
            page.click("#rv-rows tr:nth-child(1)")
            page.wait_for_selector("#rv-drill[data-loaded=true]")
        page.wait_for_timeout(500)
        assert page.evaluate("window.__violations") == []
        assert console_errors == []
    finally:
        context.close()
        if mode == "serve":
            server.stop()


def status_naming_host(url: str, host: str) -> int:
    """The status of GET `url` sent with this Host header."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.putrequest("GET", parts.path or "/", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_serve_on_every_interface_warns_and_accepts_the_allowed_hosts(cli, finished_experiment):
    child = cli("serve", "--experiment-folder", str(finished_experiment), "--host", "0.0.0.0", "--port", "0",
                "--streaming-allowed-hosts", "dash.example,box.lan")
    child.wait_for(r"^Warning: listening on every network interface without a token: anyone on the network can "
                   r"read and replay these results\.$")
    port = child.wait_for(r"Serving 1 experiment\(s\) at http://0\.0\.0\.0:(\d+)/").group(1)
    url = f"http://127.0.0.1:{port}/api/experiments"
    assert [status_naming_host(url, h) for h in ("dash.example", "box.lan:80", "10.0.0.7", "rebind.example")] == \
        [200, 200, 200, 403]


def test_benchmark_and_simulate_on_every_interface_warn(cli, run_cli):
    done = run_cli("benchmark", "--enable-streaming", "--streaming-host", "0.0.0.0", "--streaming-port", "0",
                   "--num-concurrency", "1", "--max-requests-per-run", "2")
    assert done.returncode == 0, done.stderr
    assert ("Warning: listening on every network interface without a token: anyone on the network can watch this "
            "benchmark and read its results.") in done.stderr
    guarded = run_cli("benchmark", "--enable-streaming", "--streaming-host", "0.0.0.0", "--streaming-port", "0",
                      "--streaming-token", "t0ken", "--num-concurrency", "1", "--max-requests-per-run", "2")
    assert guarded.returncode == 0 and "Warning: listening" not in guarded.stderr
    simulator = cli("simulate", "--host", "0.0.0.0", "--port", "0")
    simulator.wait_for(r"^Warning: listening on every network interface without a token: anyone on the network can "
                       r"send requests to this simulator\.$")
