"""Live events fanned out through Redis: a benchmark publishes them (publisher), dashboards anywhere mirror them
(mirror) and list every experiment kept there (library). See docs/redis.md."""

from genai_bench.fanout.settings import RedisSettings, RedisUnavailable, redis_client

__all__ = ["RedisSettings", "RedisUnavailable", "redis_client"]
