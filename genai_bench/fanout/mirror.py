"""The dashboard's side: each experiment in Redis mirrored into a local bus and state, so the usual views serve it.

A mirror is made on a viewer's first request: it rebuilds the state from the experiment's stream (seeded from the
kept newest events and runs when the stream was trimmed), then one reader greenlet per mirror XREADs new entries
and delivers them on the mirror's bus with the stream's own ids (entry 0-N is event N). So every dashboard
process, on any host, hands out the same ids, and Last-Event-ID resumes on any of them.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import gevent
import orjson
from gevent.event import Event as GeventEvent

from genai_bench import events
from genai_bench.redaction import redact_url
from genai_bench.events import Event, EventBus
from genai_bench.fanout.settings import (REGISTRY_KEY, latest_key, meta_key, redis_client, runs_key,
                                         stream_key)
from genai_bench.state import DashboardState, attach_state

log = logging.getLogger(__name__)
CATCH_UP_CHUNK = 1000  # entries read per XRANGE while rebuilding (the loop yields between chunks)
BLOCK_MS = 5000  # one XREAD waits this long for new entries before asking again
MAX_MIRRORS = 64  # mirrors kept per process; finished ones nobody watches are dropped first
LIVE = "running"
# A running benchmark that sent nothing for this long (killed, or its host gone) no longer counts as live.
STALE_SECONDS = 120.0


def is_live(entry: dict) -> bool:
    """True for a registry entry of a running benchmark that is still sending events."""
    try:
        fresh = time.time() - float(entry.get("updated_at") or entry.get("start_time") or 0) < STALE_SECONDS
    except ValueError:
        fresh = False
    return entry.get("status") == LIVE and fresh


def event_of(entry_id: bytes | str, fields: dict) -> Event | None:
    """The Event of one stream entry (its JSON kept as sent, parsed once per process), or None when unreadable."""
    text = fields.get(b"e") or fields.get("e")
    try:
        text = text.decode() if isinstance(text, bytes) else text
        envelope = orjson.loads(text)
        return Event(envelope["id"], envelope["event_type"], envelope["timestamp"], envelope["data"], text,
                     f"id: {envelope['id']}\ndata: {text}\n\n")
    except (TypeError, ValueError, KeyError, AttributeError):
        log.warning("unreadable Redis stream entry %r", entry_id)
        return None


def entry_number(entry_id: bytes | str) -> int:
    """N of a stream entry id 0-N."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2] or 0)


class ExperimentMirror:
    """One experiment's events as a local bus (history, latest, subscribers) and dashboard state."""

    def __init__(self, hub: MirrorHub, experiment_id: str, session: str | None = None) -> None:
        self.hub = hub
        self.experiment_id = experiment_id
        self.session = session  # the registry entry's session: another one means the id now names a new benchmark
        self.bus = EventBus()
        self.state: DashboardState = attach_state(self.bus)
        self.last_id = 0
        self.ready = GeventEvent()
        self.finished = False
        self.failed = False
        self.reader: gevent.Greenlet | None = None

    def start(self) -> ExperimentMirror:
        """Rebuild the state from Redis in a greenlet that then follows the stream; wait with `ready`."""
        self.reader = gevent.spawn(self._run)
        self.reader.link_exception(lambda g: log.error("Redis reader of %s stopped: %r", self.experiment_id,
                                                       g.exception))
        return self

    def _run(self) -> None:
        try:
            self._catch_up()
        except Exception as exc:  # Redis went away while rebuilding: the next request makes a new mirror
            self.failed = True
            self.hub.reader_failed(exc)
            return
        finally:
            self.ready.set()
        while not self.finished and not self.bus.closed:
            try:
                answer = self.hub.reader_client.xread({stream_key(self.experiment_id): f"0-{self.last_id}"},
                                                      count=CATCH_UP_CHUNK, block=BLOCK_MS)
            except Exception as exc:  # Redis went away: say so once per outage, try again shortly
                self.hub.reader_failed(exc)
                gevent.sleep(1.0)
                continue
            self.hub.reader_failing = False
            for _, entries in answer or ():
                self._deliver(entries)

    def _catch_up(self) -> None:
        client, key = self.hub.client, stream_key(self.experiment_id)
        first = client.xrange(key, count=1)
        first_id = entry_number(first[0][0]) if first else None
        self._seed(first_id)
        start = "-"
        while True:
            entries = client.xrange(key, min=start, count=CATCH_UP_CHUNK)
            self._deliver(entries)
            if len(entries) < CATCH_UP_CHUNK:
                return
            start = f"0-{self.last_id + 1}"
            gevent.sleep(0)

    def _seed(self, first_id: int | None) -> None:
        """Events the trimmed stream lost that the state needs: every run_completed, the newest of each state type."""
        kept = [event_of("runs", {"e": text}) for text in self.hub.client.lrange(runs_key(self.experiment_id), 0, -1)]
        kept += [event_of(kind, {"e": text}) for kind, text in
                 self.hub.client.hgetall(latest_key(self.experiment_id)).items()]
        lost = sorted((e for e in kept if e is not None and (first_id is None or e.id < first_id)), key=lambda e: e.id)
        for event in lost:
            self.state.apply(event)
            if event.event_type in events.STATE_TYPES:
                self.bus.latest[event.event_type] = event
            self.last_id = max(self.last_id, event.id)
            self.finished = self.finished or event.event_type == events.BENCHMARK_COMPLETED

    def _deliver(self, entries: list) -> None:
        for entry_id, fields in entries:
            # Past every entry read, readable or not, so that an unreadable one is never read again.
            self.last_id = max(self.last_id, entry_number(entry_id))
            event = event_of(entry_id, fields)
            if event is None or event.id <= self.bus.last_id:
                continue
            self.bus.deliver(event)
            if event.event_type == events.BENCHMARK_COMPLETED:
                self.finished = True  # nothing follows it: the reader stops, the mirror stays

    @property
    def idle(self) -> bool:
        """True when it could be dropped: finished and nobody is watching."""
        return self.finished and not self.bus.subscribers

    def close(self) -> None:
        """End its viewers' streams and stop reading."""
        self.bus.close()
        if self.reader is not None:
            self.reader.kill(block=False)


class MirrorHub:
    """A dashboard process's view of one Redis: the experiments it holds, and a mirror of each one being watched."""

    def __init__(self, url: str, max_mirrors: int = MAX_MIRRORS) -> None:
        self.shown_url = redact_url(url)
        self.client = redis_client(url)
        self.reader_client = redis_client(url, block_reads=True)
        self.max_mirrors = max_mirrors
        self.mirrors: OrderedDict[str, ExperimentMirror] = OrderedDict()
        self.reader_failing = False

    def entries(self) -> list[dict]:
        """Every experiment's registry entry, newest first (ones whose keys expired are removed from the registry)."""
        ids = [i.decode() for i in self.client.zrevrange(REGISTRY_KEY, 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for experiment_id in ids:
            pipe.hgetall(meta_key(experiment_id))
        found, expired = [], []
        for experiment_id, fields in zip(ids, pipe.execute()):
            if fields:
                found.append({k.decode(): v.decode() for k, v in fields.items()})
            else:
                expired.append(experiment_id)
        if expired:
            self.client.zrem(REGISTRY_KEY, *expired)
        return found

    def entry(self, experiment_id: str) -> dict | None:
        """One experiment's registry entry, or None."""
        fields = self.client.hgetall(meta_key(experiment_id))
        return {k.decode(): v.decode() for k, v in fields.items()} or None

    def default_id(self) -> str | None:
        """The experiment a request naming none gets: the newest running one, else the newest."""
        entries = self.entries()
        running = [e for e in entries if is_live(e)]
        return (running or entries or [{}])[0].get("id")

    def mirror(self, experiment_id: str, timeout: float = 30.0) -> ExperimentMirror | None:
        """The (started, caught-up) mirror of this experiment, or None when Redis holds no such experiment."""
        session = self.client.hget(meta_key(experiment_id), "session")
        session = session.decode() if session is not None else None
        mirror = self.mirrors.get(experiment_id)
        if mirror is not None and (mirror.failed or mirror.session != session):
            self.mirrors.pop(experiment_id).close()  # Redis failed while rebuilding, or the id was deleted or reused
            mirror = None
        if mirror is None:
            if session is None:
                return None
            mirror = self.mirrors[experiment_id] = ExperimentMirror(self, experiment_id, session).start()
            self._evict()
        self.mirrors.move_to_end(experiment_id)
        mirror.ready.wait(timeout)
        return mirror

    def _evict(self) -> None:
        for experiment_id in [i for i, m in self.mirrors.items() if m.idle][:max(0, len(self.mirrors) - self.max_mirrors)]:
            self.mirrors.pop(experiment_id).close()

    def reader_failed(self, exc: Exception) -> None:
        """One log line per Redis outage, however many mirrors notice it."""
        if not self.reader_failing:
            self.reader_failing = True
            log.warning("Redis at %s is unreachable (%s); live views wait for it", self.shown_url, type(exc).__name__)

    def close(self) -> None:
        """End every mirror's viewers and stop reading Redis."""
        for mirror in self.mirrors.values():
            mirror.close()
        self.mirrors.clear()
        self.client.close()
        self.reader_client.close()
