"""Where and how long live events are kept in Redis, the key names, and the client (the optional `redis` extra)."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from genai_bench.config import ConfigError
from genai_bench.durations import to_seconds
from genai_bench.redaction import redact_url

SCHEMES = ("redis", "rediss", "unix")
DEFAULT_MAXLEN = 100_000  # events per experiment stream: about 2 h of a busy run at 4 ticks/s (docs/redis.md)
MAX_MAXLEN = 100_000_000
KEY_PREFIX = "genai-bench:"
REGISTRY_KEY = KEY_PREFIX + "experiments"  # sorted set: experiment id scored by its start time
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


class RedisUnavailable(ConfigError):
    """The `redis` client package is not installed."""


def meta_key(experiment_id: str) -> str:
    """The hash holding one experiment's registry entry (name, model, status, times, folder, host)."""
    return f"{KEY_PREFIX}experiment:{experiment_id}"


def stream_key(experiment_id: str) -> str:
    """The stream of one experiment's events; entry id 0-N is the event's id N."""
    return f"{KEY_PREFIX}events:{experiment_id}"


def latest_key(experiment_id: str) -> str:
    """The hash of the newest event of each state type, so a trimmed stream still rebuilds the current state."""
    return f"{KEY_PREFIX}latest:{experiment_id}"


def runs_key(experiment_id: str) -> str:
    """The list of the experiment's run_completed events (one per run: small, never trimmed)."""
    return f"{KEY_PREFIX}runs:{experiment_id}"


def experiment_keys(experiment_id: str) -> list[str]:
    """Every key one experiment owns (they expire together under a retention)."""
    return [meta_key(experiment_id), stream_key(experiment_id), latest_key(experiment_id), runs_key(experiment_id)]


def parse_duration(option: str, text: str | None) -> float:
    """Seconds from "3600", "90m", "12h" or "7d"; empty or 0 means keep forever (0)."""
    if not text:
        return 0.0
    match = DURATION.match(str(text))
    if not match:
        raise ConfigError(f"{option} {text!r} is not a duration; give seconds or a number with s, m, h or d, e.g. 7d")
    return to_seconds(float(match.group(1)), match.group(2))


def url_problem(url: str) -> str | None:
    """Why `url` is not a Redis URL (redis://HOST:PORT/N, rediss://, unix://PATH), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError when out of range)
    except ValueError as exc:
        return str(exc).replace("Port", "port")
    if parts.scheme not in SCHEMES:
        return "the scheme must be redis, rediss or unix"
    if parts.scheme != "unix" and not parts.hostname:
        return "no host name"
    if parts.scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdigit():
        return "the path must be a database number, e.g. /0"
    return None


@dataclass(frozen=True)
class RedisSettings:
    """The benchmark's Redis fan-out: the server, the stream cap (XADD MAXLEN ~) and how long keys outlive the run."""

    url: str
    maxlen: int = DEFAULT_MAXLEN
    retention: float = 0.0  # seconds the keys are kept after the last event; 0 keeps them until deleted

    @classmethod
    def of(cls, url: str | None, maxlen: int = DEFAULT_MAXLEN, retention: str | None = None,
           option: str = "--streaming-redis-url") -> RedisSettings | None:
        """The settings of the CLI options (None without a URL), validated: a bad one is a one-line ConfigError."""
        if not url:
            return None
        return cls(url, maxlen, parse_duration(option.replace("url", "retention"), retention)).validate(option)

    def validate(self, option: str = "--streaming-redis-url") -> RedisSettings:
        """Raise ConfigError naming the first bad setting; return self."""
        problem = url_problem(self.url)
        if problem:
            raise ConfigError(f"{option} {redact_url(self.url)!r}: {problem}; give a URL like redis://localhost:6379/0")
        if not 1 <= self.maxlen <= MAX_MAXLEN:
            raise ConfigError(f"{option.replace('url', 'maxlen')} must be from 1 to {MAX_MAXLEN:,} events")
        require_redis(option)
        return self

    @property
    def shown_url(self) -> str:
        """The URL with its password hidden."""
        return redact_url(self.url)


def require_redis(option: str = "--streaming-redis-url") -> None:
    """Raise RedisUnavailable (one line naming the extra) when the `redis` package is missing."""
    try:
        importlib.import_module("redis")
    except ImportError:
        raise RedisUnavailable(f"{option} needs the redis client: pip install 'genai-bench[redis]'") from None


def redis_client(url: str, block_reads: bool = False):
    """A redis-py client for `url` (cooperative under gevent's patched sockets); connecting waits at most 2 s.

    Readers that block (XREAD BLOCK) get no socket timeout; others give up on a silent server after 5 s.
    """
    require_redis()
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=None if block_reads else 5.0,
                                retry_on_timeout=False)
