"""--results-db: which database, how many request records go in, and the one-line errors of a bad setting."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from genai_bench.config import ConfigError
from genai_bench.redaction import REDACTED, redact_url

REQUEST_MODES = ("none", "sample", "all")
# --results-db-requests sample: at most this many requests per run, evenly spaced over it (the drill-down's view).
SAMPLED_REQUESTS = 1000
EXTRA_HINT = "pip install 'genai-bench[db]'"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def database_url(text: str) -> str:
    """The SQLAlchemy URL of a --results-db value: sqlite:///path.db, a bare file path, or postgresql://..."""
    text = text.strip()
    match = _SCHEME.match(text)
    if not match:
        if not text:
            raise ConfigError("--results-db is empty: give sqlite:///path.db, a file path, or postgresql://...")
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    scheme = match.group(1).lower()
    if scheme == "sqlite":
        return text
    if scheme in _POSTGRES_SCHEMES:
        return "postgresql+psycopg://" + text[match.end():]
    raise ConfigError(f"--results-db {redact_url(text)!r}: unknown database {scheme!r}; "
                      "use sqlite:///path.db, a file path, or postgresql://user@host/db")


def is_postgres(url: str) -> bool:
    """True for a PostgreSQL URL (as database_url returns it)."""
    return url.startswith("postgresql")


def shown_url(url: str) -> str:
    """A database URL for logs and pages: its password (and any key-like parameter) hidden."""
    # A SQLite URL holds a path and no credentials (and urlunsplit would drop the empty host of sqlite:///).
    return url if url.startswith("sqlite:") else redact_url(url)


def require_db_extra(url: str) -> None:
    """Refuse, in one line naming the extra, when the libraries a database URL needs are not installed."""
    needed = ["sqlalchemy", "alembic"] + (["psycopg"] if is_postgres(url) else [])
    missing = [name for name in needed if not _installed(name)]
    if missing:
        raise ConfigError(f"--results-db needs the db extra ({', '.join(missing)} missing): {EXTRA_HINT}")


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # a module set to None in sys.modules (blocked) has no spec
        return False


@dataclass(frozen=True)
class ResultsDbSettings:
    """The --results-db options of one benchmark."""

    url: str | None = None  # as given; None: no database
    requests: str = "sample"  # none | sample | all: which request records are written

    @classmethod
    def of(cls, config) -> ResultsDbSettings:
        """The settings of a BenchmarkConfig."""
        return cls(getattr(config, "results_db", None), getattr(config, "results_db_requests", "sample"))

    def validate(self) -> ResultsDbSettings:
        """Raise ConfigError (one line) for an unknown mode, URL scheme or a missing db extra."""
        if self.requests not in REQUEST_MODES:
            raise ConfigError(f"--results-db-requests {self.requests!r}: use one of {', '.join(REQUEST_MODES)}")
        if self.url is not None:
            require_db_extra(database_url(self.url))
        return self

    @property
    def request_limit(self) -> int | None:
        """How many request records per run are written: 0, a sample's size, or None for all."""
        return {"none": 0, "sample": SAMPLED_REQUESTS}.get(self.requests)


# Keys whose value is a credential wherever they appear in metadata (api_key, streaming_token, auth_config...).
_SECRET_KEY = re.compile(r"(^|_)(api_?key|key|token|secret|password|passwd|auth\w*|credentials?|bearer)$", re.I)
_SECRET_TEXT = [
    (re.compile(r"(--(?:api-key|streaming-token|api-token|token)(?:=|\s+))\S+"), r"\1" + REDACTED),
    (re.compile(r"(Bearer\s+)\S+", re.I), r"\1" + REDACTED),
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@"), r"\1" + REDACTED + "@"),  # URL userinfo
]


def scrub(value):
    """`value` (metadata) with credentials hidden: secret-named keys' values, --api-key values, URL userinfo."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "") else scrub(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
    return value
