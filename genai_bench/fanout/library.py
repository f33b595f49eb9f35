"""Every experiment a dashboard serves: the folders it was given and each one kept in Redis (docs/redis.md).

An experiment in Redis whose folder this machine can read is read from it (runs, per-request drill-down, reports);
one whose folder is elsewhere is rebuilt from what Redis keeps: its registry entry and each run's aggregated
metrics (the run_completed events).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from genai_bench.fanout.mirror import MirrorHub, is_live
from genai_bench.fanout.settings import runs_key
from genai_bench.results import Experiment, ExperimentLibrary, ExperimentNotFound, RunDocument, load_experiment

# Registry fields holding JSON (lists, objects) rather than text.
JSON_FIELDS = ("traffic_scenario", "num_concurrency", "workload", "summary")
NUMBER_FIELDS = ("start_time", "end_time", "last_event_id", "pid", "updated_at")


@dataclass
class RedisExperiment(Experiment):
    """An experiment listed from Redis; `entry` is its registry entry (status, host...)."""

    entry: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The results API's summary, plus where it streams from: `redis`, `status`, `host`."""
        return {**super().summary(), "live": is_live(self.entry), "redis": True,
                "status": self.entry.get("status"), "host": self.entry.get("host")}


class StreamedRun(RunDocument):
    """A run known from its run_completed event only: its per-request records are in a folder on another machine."""

    def requests(self, limit: int = 0) -> dict:
        """Refused: the records are not here."""
        raise ExperimentNotFound(f"run {self.key!r}: its per-request records are in {self.path.parent} on the "
                                 "benchmark's machine; serve that folder to drill down")


def decoded_entry(entry: dict) -> dict:
    """A registry entry with its JSON and number fields parsed."""
    out = dict(entry)
    for name in JSON_FIELDS:
        if name in out:
            try:
                out[name] = orjson.loads(out[name])
            except ValueError:
                out.pop(name)
    for name in NUMBER_FIELDS:
        if name in out:
            try:
                out[name] = float(out[name])
            except ValueError:
                out.pop(name)
    return out


class FanoutLibrary(ExperimentLibrary):
    """The given folders plus every experiment in Redis (Redis's entry wins over a folder it names)."""

    def __init__(self, hub: MirrorHub, folders: list[Path] = ()) -> None:
        super().__init__(folders)
        self.hub = hub

    def experiments(self) -> list[Experiment]:
        """Every readable experiment of both sources, newest first."""
        streamed = [self._from_entry(decoded_entry(e)) for e in self.hub.entries()]
        named = {str(Path(e.folder).resolve()) for e in streamed}
        folders = [e for e in super().experiments() if str(e.folder.resolve()) not in named]
        return sorted(streamed + folders, key=lambda e: e.metadata.get("start_time") or 0, reverse=True)

    def get(self, experiment_id: str) -> Experiment:
        """The experiment with this id: Redis's first, then the folders'."""
        entry = self.hub.entry(experiment_id)
        if entry is not None:
            return self._from_entry(decoded_entry(entry))
        return super().get(experiment_id)

    def _from_entry(self, entry: dict) -> RedisExperiment:
        folder = Path(entry.get("folder") or entry.get("name") or entry["id"])
        live = is_live(entry)
        if folder.is_dir():
            try:
                found = load_experiment(folder, entry["id"], live=live)
                return RedisExperiment(**{f.name: getattr(found, f.name) for f in dataclasses.fields(found)},
                                       entry=entry)
            except ExperimentNotFound:
                pass  # nothing written there yet: what Redis keeps describes it
        runs = []
        for text in self.hub.client.lrange(runs_key(entry["id"]), 0, -1):
            data = orjson.loads(text)["data"]
            key = data.get("run_key") or f"run-{len(runs) + 1}"
            runs.append(StreamedRun(key, data.get("scenario", "?"), int(data.get("concurrency") or 0), data,
                                    folder / f"{key}.json", "s"))
        metadata = {**(entry.get("summary") or {}), **entry}
        reasons = ["the benchmark was interrupted before it finished"] if entry.get("status") in ("failed",
                                                                                                   "stopped") else []
        return RedisExperiment(entry["id"], folder, metadata, runs, reasons, live, entry=entry)
