"""Scraping the servers' /metrics in the benchmark process: one greenlet, a short timeout, never on the request path.

Each scrape is read into the vocabulary (vocabulary.Reader), combined over sources, fired as the sweep's
`server_metrics` hook, and kept in the current run's RunServerMetrics.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import gevent
from gevent.lock import Semaphore
from geventhttpclient import HTTPClient

from genai_bench.redaction import redact_url
from genai_bench.hooks import SweepHooks
from genai_bench.servermetrics.runs import RunServerMetrics, ServerSample
from genai_bench.servermetrics.vocabulary import SERIES, ExpositionError, Reader, combine, parse_samples

log = logging.getLogger(__name__)
AUTO, OFF = "auto", "off"
# A scrape slower than this is a failed scrape: the next one comes at the next interval anyway.
SCRAPE_TIMEOUT = 2.0


def metrics_url(api_base: str) -> str:
    """The /metrics of the server at `api_base` (its /v1 dropped): where vLLM, SGLang, TGI and llama.cpp serve it."""
    parts = urlsplit(api_base)
    path = re.sub(r"/v1/?$", "", parts.path.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, path + "/metrics", "", ""))


def source_urls(specs: tuple[str, ...], api_base: str) -> list[str]:
    """The URLs --server-metrics names: `auto` is the target's /metrics, `off` none; a URL without a path gets /metrics."""
    if not specs or OFF in specs:
        return []
    urls = []
    for spec in specs:
        if spec == AUTO:
            urls.append(metrics_url(api_base))
        else:
            parts = urlsplit(spec)
            urls.append(spec if parts.path not in ("", "/") else urlunsplit(parts._replace(path="/metrics")))
    return list(dict.fromkeys(urls))


@dataclass
class Source:
    """One /metrics endpoint: its client (kept alive between scrapes) and reader (counters of the last scrape)."""

    url: str
    headers: dict
    auto: bool
    reader: Reader
    client: HTTPClient | None = None
    failing: bool = False  # the last scrape failed (logged once, until one succeeds again)

    @property
    def shown(self) -> str:
        """The URL for people and files, credentials hidden."""
        return redact_url(self.url)

    def fetch(self) -> str:
        """The endpoint's text; raises on a timeout, a non-200 answer or a connection error."""
        if self.client is None:
            self.client = HTTPClient.from_url(self.url, connection_timeout=SCRAPE_TIMEOUT,
                                              network_timeout=SCRAPE_TIMEOUT)
        parts = urlsplit(self.url)
        with gevent.Timeout(SCRAPE_TIMEOUT):
            response = self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""), headers=self.headers)
            try:
                body = response.read()
            finally:
                response.release()
        if response.status_code != 200:
            raise ExpositionError(f"HTTP {response.status_code}")
        return body.decode("utf-8", "replace")

    def close(self) -> None:
        """Close the connection."""
        if self.client is not None:
            self.client.close()
            self.client = None


@dataclass
class ServerMetrics:
    """Scrapes every source each `interval` seconds while started, and on demand at each run's start and end."""

    sources: list[Source]
    hooks: SweepHooks
    interval: float = 1.0
    include: re.Pattern | None = None
    run_key: str | None = None
    run: RunServerMetrics | None = None
    _lock: Semaphore = field(default_factory=Semaphore)
    _loop: gevent.Greenlet | None = None

    @classmethod
    def of(cls, specs: tuple[str, ...], api_base: str, headers: dict, hooks: SweepHooks, interval: float = 1.0,
           include: str | None = None) -> ServerMetrics:
        """The scraper of --server-metrics (auto sends the target's headers; other URLs are other hosts: none)."""
        pattern = re.compile(include) if include else None
        auto_url = metrics_url(api_base)
        auth = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        sources = [Source(url, auth if url == auto_url else {}, url == auto_url and AUTO in specs, Reader(pattern))
                   for url in source_urls(specs, api_base)]
        return cls(sources, hooks, interval, pattern)

    def probe(self) -> ServerMetrics:
        """Scrape each source once; one that does not answer Prometheus text is dropped with one log line."""
        kept = []
        for source in self.sources:
            try:
                source.reader.read(parse_samples(source.fetch(), self.include), time.time())
                kept.append(source)
            except (Exception, gevent.Timeout) as exc:
                source.close()
                why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ExpositionError) else str(exc)
                if source.auto:
                    self._log(f"No server metrics: {source.shown} gave none ({why}); the server panel stays empty "
                              "(--server-metrics URL names another endpoint, off silences this)", "info")
                else:
                    self._log(f"--server-metrics {source.shown} dropped: {why}", "warning")
        self.sources = kept
        return self

    @property
    def active(self) -> bool:
        """True while some source is left to scrape."""
        return bool(self.sources)

    def start(self) -> None:
        """Scrape every `interval` seconds in a greenlet of its own."""
        if self.active and self._loop is None:
            self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop scraping and close the connections."""
        if self._loop is not None:
            self._loop.kill()
            self._loop = None
        for source in self.sources:
            source.close()

    def begin_run(self, key: str, start_time: float) -> None:
        """A run starts: its scrapes are kept from now on, the first one (the counters' baseline) right away."""
        self.run_key, self.run = key, RunServerMetrics(start_time)
        self.scrape()

    def end_run(self) -> RunServerMetrics | None:
        """The run ended (nothing in flight any more): a last scrape, then its scrapes."""
        self.scrape()
        run, self.run, self.run_key = self.run, None, None
        return run if run is not None and run.samples else None

    def _run(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.scrape()
            except Exception:  # a bug here must never stop the benchmark, nor scraping
                log.exception("server metrics scrape failed")

    def scrape(self) -> ServerSample | None:
        """Scrape every source now, publish the sample through the hook and keep it in the run; None if all failed."""
        if not self.active:
            return None
        with self._lock:  # the timer's scrape and a run boundary's share each source's connection and counters
            t = time.time()
            entries = [entry for source in self.sources if (entry := self._scrape(source, t)) is not None]
        if not entries:
            return None
        sample = ServerSample(
            t=t, sources=tuple(entries),
            values={name: combine(name, [e["values"].get(name) for e in entries]) for name in SERIES},
            raw={name: sum(e["raw"][name] for e in entries if name in e["raw"]) for e in entries for name in e["raw"]},
            totals={name: sum(e["totals"][name] for e in entries if name in e["totals"])
                    for e in entries for name in e["totals"]})
        if self.run is not None:
            self.run.add(sample)
        self.hooks.server_metrics.fire(sample=sample, run_key=self.run_key)
        return sample

    def _scrape(self, source: Source, t: float) -> dict | None:
        try:
            text = source.fetch()
            engine, values, totals, raw = source.reader.read(parse_samples(text, self.include), t)
        except (Exception, gevent.Timeout) as exc:
            source.close()  # a fresh connection next time
            if not source.failing:
                self._log(f"Server metrics from {source.shown} failed ({type(exc).__name__}: {exc}); "
                          "still trying every interval", "warning")
            source.failing = True
            return None
        source.failing = False
        return {"url": source.shown, "engine": engine, "values": values, "totals": totals, "raw": raw}

    def _log(self, message: str, level: str) -> None:
        self.hooks.log.fire(message=message, level=level)
