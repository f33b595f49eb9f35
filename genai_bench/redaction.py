"""Keeping secrets out of everything written or shown: URLs' userinfo and key-like parameters, secret options."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose value is a credential (api_key, key, token, access_token, sig, X-Amz-Signature...).
SECRET_PARAMETER = re.compile(r"key|token|sig|secret|passw|auth|credential", re.IGNORECASE)
REDACTED = "***"
# Options whose value is a secret (a webhook URL is its own credential; a Redis URL may carry a password).
SECRET_OPTIONS = ("--api-key", "--streaming-token", "--alert-webhook", "--streaming-redis-url")


def redact_url(url: str) -> str:
    """`url` with its user:password and any key-like query parameter (api_key, token, sig...) replaced by ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
        query = urlencode([(name, REDACTED if SECRET_PARAMETER.search(name) else value)
                           for name, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # Not a URL we can take apart: show nothing of it rather than risk showing a secret.
        return REDACTED


# Options whose value is a URL that may carry user:password (shown with it hidden).
URL_OPTIONS = ("--api-base", "--results-db", "--server-metrics")


def redacted_command(command: list[str]) -> list[str]:
    """The command line with the API key and streaming token hidden and --api-base redacted, for metadata."""
    out, previous = [], None
    for arg in command:
        option, equals, value = arg.partition("=")
        if previous in SECRET_OPTIONS:
            out.append(REDACTED)
        elif previous in URL_OPTIONS:
            out.append(redact_url(arg))
        elif equals and option in SECRET_OPTIONS:
            out.append(f"{option}={REDACTED}")
        elif equals and option in URL_OPTIONS:
            out.append(f"{option}={redact_url(value)}")
        else:
            out.append(arg)
        previous = arg
    return out
