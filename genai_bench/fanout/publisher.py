"""The benchmark's side: every event of its bus also goes to a Redis stream, from a greenlet, never in the way.

The bus listener only appends to a bounded queue; one greenlet drains it in pipelined batches (XADD with the
event's own id as the entry id 0-N, capped with MAXLEN ~), keeps the experiment's registry entry current, and sets
the keys' expiry. A Redis that is down or unreachable costs one log line: events are then dropped for Redis (the
bus, the page and events.ndjson keep every one), and sending resumes when it answers again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

import gevent
import orjson
from gevent.queue import Empty, Full, Queue

from genai_bench import events
from genai_bench.events import Event
from genai_bench.fanout.settings import (REGISTRY_KEY, RedisSettings, experiment_keys, latest_key, meta_key,
                                         redis_client, runs_key, stream_key)

log = logging.getLogger(__name__)
QUEUE_SIZE = 20_000  # events waiting for Redis; beyond it they are dropped for Redis only
BATCH = 500  # events per pipeline round trip
RETRY_SECONDS = 5.0  # a failed Redis is tried again after this long
FLUSH_SECONDS = 5.0  # how long close() waits for the queue to reach Redis
# The newest event of these types is kept per experiment beside the stream (rebuilds the state of a trimmed stream).
LATEST_TYPES = (*events.STATE_TYPES, events.BENCHMARK_COMPLETED)


class RedisPublisher:
    """Mirrors one benchmark's events into Redis under an experiment id (the folder's name, made unique there)."""

    def __init__(self, settings: RedisSettings, name: str, labels: dict) -> None:
        self.settings = settings
        self.name = name
        self.labels = labels  # registry fields: model, folder, start_time...
        self.experiment_id: str | None = None
        self.queue: Queue = Queue(maxsize=QUEUE_SIZE)
        self.dropped = 0
        self.sent = 0
        self.failing_since: float | None = None
        self.client = redis_client(settings.url)
        self.greenlet = gevent.spawn(self._drain)
        self.greenlet.link_exception(lambda g: log.error("Redis publisher stopped: %r", g.exception))

    def offer(self, event: Event) -> None:
        """A bus listener: queue the event for Redis without ever blocking (a full queue drops it for Redis)."""
        try:
            self.queue.put_nowait(event)
        except Full:
            self.dropped += 1

    def close(self, timeout: float = FLUSH_SECONDS) -> None:
        """Send what is queued (waiting at most `timeout` seconds, none when Redis is failing), then stop."""
        if self.failing_since is not None:
            timeout = 0.0
        try:
            self.queue.put(None, timeout=max(timeout, 0.001))
        except Full:
            pass  # Redis is too slow to take the backlog in time: what is left is dropped, and counted
        self.greenlet.join(timeout=timeout)
        self.greenlet.kill(block=False)
        if self.dropped and self.failing_since is None:  # a failing Redis was already reported, in its one line
            log.warning("Redis at %s did not receive %d live event(s); events.ndjson has every one",
                        self.settings.shown_url, self.dropped)
        self.client.close()

    def _drain(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if self.failing_since is not None and time.monotonic() - self.failing_since < RETRY_SECONDS:
                self.dropped += len([e for e in batch if e is not None])
                if None in batch:
                    return
                continue
            try:
                self._send([e for e in batch if e is not None])
            except Exception as exc:  # redis.RedisError, OSError: Redis down or refusing; the benchmark goes on
                self._failed(exc, len([e for e in batch if e is not None]))
            else:
                self._recovered()
            if None in batch:
                return

    def _next_batch(self) -> list | None:
        """The next events (waiting for the first); None once close() was called and nothing is left."""
        first = self.queue.get()
        batch = [first]
        while first is not None and len(batch) < BATCH:
            try:
                item = self.queue.get_nowait()
            except Empty:
                break
            batch.append(item)
            if item is None:
                break
        return None if batch == [None] else batch

    def _send(self, batch: list[Event]) -> None:
        if self.experiment_id is None:
            self.experiment_id = self._register()
        pipe = self.client.pipeline(transaction=False)
        key, experiment = stream_key(self.experiment_id), self.experiment_id
        for event in batch:
            pipe.xadd(key, {"e": event.json}, id=f"0-{event.id}", maxlen=self.settings.maxlen, approximate=True)
            if event.event_type in LATEST_TYPES:
                pipe.hset(latest_key(experiment), event.event_type, event.json)
            if event.event_type == events.RUN_COMPLETED:
                pipe.rpush(runs_key(experiment), event.json)
            fields = registry_fields(event)
            if fields:
                pipe.hset(meta_key(experiment), mapping=fields)
        if batch:  # updated_at: a running benchmark that stops sending (killed) stops counting as live
            pipe.hset(meta_key(experiment), mapping={"last_event_id": batch[-1].id, "updated_at": time.time()})
        if self.settings.retention:
            for owned in experiment_keys(experiment):
                pipe.expire(owned, int(self.settings.retention))
        pipe.execute()
        self.sent += len(batch)

    def _register(self) -> str:
        """Claim an experiment id in the registry (the folder name, or name-2, name-3... when taken)."""
        n = 1
        while True:
            candidate = self.name if n == 1 else f"{self.name}-{n}"
            if self.client.hsetnx(meta_key(candidate), "id", candidate):
                break
            n += 1
        fields = {"name": self.name, "host": socket.gethostname(), "pid": os.getpid(), "status": "running",
                  "session": uuid.uuid4().hex,  # tells dashboards apart an id reused after its keys expired
                  "stream": stream_key(candidate), **{k: v for k, v in self.labels.items() if v is not None}}
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(meta_key(candidate), mapping={k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v
                                                for k, v in fields.items()})
        pipe.zadd(REGISTRY_KEY, {candidate: float(self.labels.get("start_time") or time.time())})
        pipe.execute()
        return candidate

    def _failed(self, exc: Exception, lost: int) -> None:
        self.dropped += lost
        if self.failing_since is None:
            log.warning("Redis at %s is unreachable (%s: %s); the benchmark goes on, its live events are not sent "
                        "there (events.ndjson keeps them)",
                        self.settings.shown_url, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        self.failing_since = time.monotonic()

    def _recovered(self) -> None:
        if self.failing_since is not None:
            log.warning("Redis at %s answers again; %d live event(s) did not reach it", self.settings.shown_url,
                        self.dropped)
            self.failing_since = None


def registry_fields(event: Event) -> dict:
    """What an event changes in the experiment's registry entry: its status, and at the end its summary."""
    if event.event_type == events.STATUS:
        return {"status": event.data.get("status") or "running"}
    if event.event_type == events.BENCHMARK_COMPLETED:
        fields = {"status": event.data.get("status") or "completed", "end_time": event.timestamp}
        if event.data.get("experiment"):
            fields["summary"] = orjson.dumps(event.data["experiment"]).decode()
        return fields
    return {}


def publisher_for(settings: RedisSettings | None, folder, config) -> RedisPublisher | None:
    """The Redis publisher of a benchmark writing to `folder` with this BenchmarkConfig, or None without Redis."""
    if settings is None:
        return None
    labels = {"folder": str(folder.resolve()), "model": config.model_label, "api_backend": config.api_backend,
              "task": config.task, "traffic_scenario": [s.text for s in config.traffic_scenarios],
              "num_concurrency": config.concurrencies, "server_engine": config.server_engine,
              "start_time": time.time()}
    return RedisPublisher(settings, folder.name, labels)
