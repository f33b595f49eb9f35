"""Who may use the dashboard (the token, or an accepted Host when there is none) and the headers every answer carries."""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from collections.abc import Iterable, Mapping

from flask import Flask, Response, g, request

from genai_bench.config import ConfigError
from genai_bench.web.context import error_response, web_context

TOKEN_ENV = "GENAI_BENCH_STREAMING_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
ANY_HOST = "*"
COOKIE_PREFIX = "genai_bench_token_"
# The page loads only its own scripts, styles and data; nothing may frame it (clickjacking).
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'")
# The downloadable HTML report inlines its scripts and styles by design (it opens from disk), and loads nothing else.
REPORT_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
                 "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def checked_token(token: str | None) -> str | None:
    """The streaming token, or None for none; an empty one is refused, since it would silently turn auth off."""
    if token is not None and not token.strip():
        raise ConfigError(f"the streaming token is empty: give --streaming-token (or {TOKEN_ENV}) a value, "
                          "or leave it unset to run without one")
    return token


def token_setting(value: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The --streaming-token option's value, checked; click drops an empty environment variable, so it is seen here."""
    if value is None and environ.get(TOKEN_ENV) == "":
        value = ""
    return checked_token(value)


def host_name(host: str) -> str:
    """The name in a Host header or bind address: lower case, without port, IPv6 brackets or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_names(values: Iterable[str]) -> frozenset[str]:
    """Host names from bind addresses and --streaming-allowed-hosts values (repeated or comma-separated)."""
    return frozenset(host_name(part) for value in values for part in value.split(",") if part.strip())


def is_ip_address(name: str) -> bool:
    """True for an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_accepted(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request naming this Host may use a dashboard without a token.

    DNS rebinding always sends the attacker's domain name, so addresses (and requests with no Host, which no browser
    sends) are safe; names must be loopback ones, the bound one or explicitly allowed ones ("*" allows any).
    """
    if header is None or ANY_HOST in allowed:
        return True
    name = host_name(header)
    return name in LOOPBACK_NAMES or name in allowed or is_ip_address(name)


def allow_hosts(app: Flask, hosts: Iterable[str]) -> None:
    """Accept these Host names (the bound address, --streaming-allowed-hosts) besides the loopback ones."""
    web_context(app).allowed_hosts = host_names(hosts) - WILDCARD_ADDRESSES


def cookie_name() -> str:
    """The token cookie of this dashboard; cookies ignore ports, so two dashboards on one host keep their own."""
    return COOKIE_PREFIX + request.environ.get("SERVER_PORT", "")


def presented_token() -> tuple[str | None, str]:
    """The token of this request and where it came from: a header, ?token= (EventSource, curl) or the page's cookie."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:], "header"
    if "X-Genai-Bench-Token" in request.headers:
        return request.headers["X-Genai-Bench-Token"], "header"
    if "token" in request.args:
        return request.args["token"], "query"
    return request.cookies.get(cookie_name()), "cookie"


def guard() -> Response | None:
    """With a token set, refuse requests without it (401); without one, refuse Host names not accepted (403)."""
    context = web_context()
    if context.token is None:
        if host_accepted(request.environ.get("HTTP_HOST"), context.allowed_hosts):
            return None
        return error_response(403, "this Host is not accepted: open the dashboard by its address, or start it with "
                                   "--streaming-allowed-hosts <name> (or a --streaming-token)")
    given, source = presented_token()
    if given is not None and hmac.compare_digest(given.encode(), context.token.encode()):
        g.remember_token = source != "cookie"
        return None
    return error_response(401, "missing or wrong streaming token: send 'Authorization: Bearer <token>' or ?token=<token>")


def finish_response(response: Response) -> Response:
    """Add the security headers (a view may set its own policy) and, after a token by header or URL, the cookie."""
    if g.get("remember_token"):
        # The page's own requests then carry the token without putting it in any URL.
        response.set_cookie(cookie_name(), web_context().token, httponly=True, samesite="Strict", path="/")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def warn_if_exposed(host: str, token: str | None, what: str) -> None:
    """Say on stderr that anyone on the network can `what` when a server binds beyond loopback without a token."""
    name = host_name(host)
    loopback = name in LOOPBACK_NAMES or (is_ip_address(name) and ipaddress.ip_address(name).is_loopback)
    if not loopback and not token:
        where = "every network interface" if name in WILDCARD_ADDRESSES else host
        print(f"Warning: listening on {where} without a token: anyone on the network can {what}.", file=sys.stderr)


def init_app(app: Flask, allowed_hosts: Iterable[str]) -> None:
    """Check every request and add the security headers to every response."""
    allow_hosts(app, allowed_hosts)
    app.before_request(guard)
    app.after_request(finish_response)
