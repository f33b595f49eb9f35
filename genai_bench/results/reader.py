"""Reading experiment folders back (serve, report, historical data), tolerant of what a crash leaves behind."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from genai_bench.intervals import point_intervals
from genai_bench.results.filters import ExperimentFilter
from genai_bench.metrics import TIME_UNIT_SCALE, histogram, scaled_by_turn, scaled_stats
from genai_bench.slo import scaled_slo
from genai_bench.results.formats import normalize_aggregated, normalize_metadata
from genai_bench.results.writer import EVENTS_FILE, METADATA_FILE
MAX_DRILLDOWN_REQUESTS = 5000
REQUEST_TIME_FIELDS = ("ttft", "tpot", "e2e_latency", "output_latency", "itl")
TIMESTAMP_FIELDS = ("start_time", "first_token_time", "end_time", "scheduled_start_time")


class ExperimentNotFound(LookupError):
    """No experiment folder with that id or path."""


class NotRegularFile(OSError):
    """A name in an experiment folder that is a symbolic link (it could lead outside the folder), FIFO or device."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading when it is a regular file itself, never through a symbolic link; else NotRegularFile."""
    try:
        # O_NOFOLLOW refuses a link at open time (no check-then-read race); O_NONBLOCK keeps a FIFO from hanging us.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if os.path.islink(path):
            raise NotRegularFile(f"{path.name} is a symbolic link (not read)") from exc
        raise
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise NotRegularFile(f"{path.name} is not a regular file (not read)")
    return handle


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file (see open_regular)."""
    with open_regular(path) as handle:
        return handle.read()


def is_regular(path: Path) -> bool:
    """True when `path` is a regular file itself (not a symbolic link)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def to_seconds(aggregated: dict, time_unit: str) -> dict:
    """Aggregated metrics with latency statistics converted to seconds."""
    scale = TIME_UNIT_SCALE.get(time_unit, 1.0)
    if scale == 1.0:
        return aggregated
    return {**aggregated, "stats": scaled_stats(aggregated.get("stats") or {}, 1.0 / scale),
            "stats_by_turn": scaled_by_turn(aggregated.get("stats_by_turn"), 1.0 / scale),
            "slo": scaled_slo(aggregated.get("slo"), 1.0 / scale)}


@dataclass
class RunDocument:
    """One run file, read back: its identity, aggregated metrics (seconds) and where it lives."""

    key: str
    scenario: str
    concurrency: int
    aggregated: dict
    path: Path
    time_unit: str

    @property
    def partial(self) -> bool:
        """True when the run was cut short."""
        return bool(self.aggregated.get("partial"))

    @property
    def lost_requests(self) -> int:
        """Requests issued by workers that died mid-run and never recorded (0 without workers)."""
        return int((self.aggregated.get("client") or {}).get("lost_requests") or 0)

    @property
    def batch_size(self) -> int | None:
        """Inputs per request of an embeddings or rerank run (its sweep's axis); None for other runs."""
        return self.aggregated.get("batch_size")

    @property
    def load(self) -> str:
        """The run's load for people: "batch size 8" or "concurrency 4"."""
        return f"batch size {self.batch_size}" if self.batch_size is not None else f"concurrency {self.concurrency}"

    def to_dict(self) -> dict:
        """The Run object of the results API."""
        return {"key": self.key, "scenario": self.scenario, "concurrency": self.concurrency,
                "batch_size": self.batch_size, "partial": self.partial, "aggregated": self.aggregated}

    def requests(self, limit: int = MAX_DRILLDOWN_REQUESTS) -> dict:
        """Per-request points for the drill-down (times in seconds, evenly thinned past `limit`), histograms, and the
        server's scrapes over the run (`server_metrics`, null without them)."""
        document = orjson.loads(read_regular(self.path))
        records = document.get("individual_request_metrics") or []
        scale = 1000.0 if self.time_unit == "ms" else 1.0
        first_start = min((r["start_time"] for r in records if r.get("start_time") is not None), default=0.0)
        points = [{
            # Upstream's records carry no timestamps: their points have no place on the time axis.
            "t": None if r.get("start_time") is None else r["start_time"] - first_start,
            "ttft": _scaled(r.get("ttft"), scale),
            "tpot": _scaled(r.get("tpot"), scale),
            "e2e_latency": _scaled(r.get("e2e_latency"), scale),
            "output_tokens": r.get("num_output_tokens"),
            "error_code": r.get("error_code"),
        } for r in records]
        histograms = {metric: histogram(values) for metric in ("ttft", "tpot", "e2e_latency")
                      if (values := [p[metric] for p in points if p[metric] is not None and not p["error_code"]])}
        step = max(1, -(-len(points) // limit))
        return {"total": len(points), "sampled": step > 1, "requests": points[::step], "histograms": histograms,
                "server_metrics": document.get("server_metrics")}


def _scaled(value, scale: float):
    return None if value is None else value / scale


@dataclass
class Experiment:
    """An experiment folder read back, tolerant of what a crash leaves behind (it is then marked partial)."""

    id: str
    folder: Path
    metadata: dict
    runs: list[RunDocument]
    partial_reasons: list[str]
    live: bool = False

    @property
    def events_path(self) -> Path:
        """Where the event log is."""
        return self.folder / EVENTS_FILE

    def summary(self) -> dict:
        """The Summary object of the results API."""
        meta = self.metadata
        return {
            "id": self.id, "name": self.folder.name, "folder": str(self.folder.resolve()),
            "live": self.live and meta.get("end_time") is None,  # a live benchmark that has finished is not live
            "partial": bool(self.partial_reasons), "partial_reasons": self.partial_reasons,
            "model": meta.get("model"), "api_backend": meta.get("api_backend"),
            "server_engine": meta.get("server_engine"), "server_version": meta.get("server_version"),
            "server_gpu_type": meta.get("server_gpu_type"),
            "traffic_scenario": meta.get("traffic_scenario") or sorted({r.scenario for r in self.runs}),
            "num_concurrency": meta.get("num_concurrency") or sorted({r.concurrency for r in self.runs}),
            "start_time": meta.get("start_time"), "end_time": meta.get("end_time"),
            "run_count": len(self.runs), "has_events": is_regular(self.events_path),
            "workload": meta.get("workload"),
        }

    def to_dict(self) -> dict:
        """Summary, metadata, runs and each load point's mean and 95% interval (GET /api/experiments/<id>)."""
        return {"summary": self.summary(), "metadata": self.metadata, "runs": [r.to_dict() for r in self.runs],
                "intervals": point_intervals(self.runs)}

    def run(self, key: str) -> RunDocument:
        """The run with this key."""
        for run in self.runs:
            if run.key == key:
                return run
        raise ExperimentNotFound(f"experiment {self.id!r} has no run {key!r}")


def read_events(path: Path) -> tuple[list[dict], int]:
    """Envelopes from an events.ndjson, and how many lines were unreadable (a crash can cut the last one)."""
    events, bad = [], 0
    if not is_regular(path):
        return events, bad
    with open_regular(path) as handle:
        for line in handle:  # bytes lines end at b"\n" only; a U+2028 inside a string stays in its line
            if not line.strip():
                continue
            try:
                events.append(orjson.loads(line.decode("utf-8", errors="replace")))
            except ValueError:
                bad += 1
    return events, bad


def load_experiment(folder: Path, experiment_id: str | None = None, live: bool = False) -> Experiment:
    """Read an experiment folder; whatever is missing or damaged becomes a partial reason, not an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExperimentNotFound(f"{folder} is not a directory")
    reasons: list[str] = []
    metadata = normalize_metadata(_read_json(folder / METADATA_FILE, reasons) or {})
    # Run files are named by their sweep's axis like upstream's: num_concurrency, or batch_size for batched tasks.
    paths = sorted({*folder.glob("*_num_concurrency_*.json"), *folder.glob("*_batch_size_*.json")})
    default_unit = metadata.get("metrics_time_unit") or "s"
    runs = [run for path in paths if (run := _read_run(path, reasons, default_unit))]
    runs.sort(key=lambda r: (r.scenario, r.batch_size or 0, r.concurrency))
    if not metadata and not runs:
        raise ExperimentNotFound(f"{folder} holds no genai-bench experiment ({METADATA_FILE} or run files)")
    if metadata.get("partial") and not live:
        reasons.append("the benchmark was interrupted before it finished")
    reasons.extend(f"run {r.scenario} @ {r.load} was cut short" for r in runs if r.partial)
    reasons.extend(f"run {r.scenario} @ {r.load} lost {r.lost_requests} request(s) with a worker that died"
                   for r in runs if r.lost_requests)
    reasons.extend(_missing_runs(metadata, runs))
    _, bad_lines = read_events(folder / EVENTS_FILE)
    if bad_lines:
        reasons.append(f"{EVENTS_FILE} has {bad_lines} unreadable line(s) (cut off by a crash?)")
    return Experiment(experiment_id or folder.name, folder, metadata, runs, reasons, live)


def load_run(path: Path) -> RunDocument | None:
    """One run file read back (None when it is unreadable or has no aggregated metrics)."""
    return _read_run(Path(path), [])


def _read_json(path: Path, reasons: list[str]) -> dict | None:
    try:
        return orjson.loads(read_regular(path))
    except FileNotFoundError:
        reasons.append(f"{path.name} is missing")
    except NotRegularFile as exc:
        reasons.append(str(exc))
    except (ValueError, OSError) as exc:
        reasons.append(f"{path.name} is unreadable ({type(exc).__name__})")
    return None


def _read_run(path: Path, reasons: list[str], default_unit: str = "s") -> RunDocument | None:
    document = _read_json(path, reasons)
    if document is None or "aggregated_metrics" not in document:
        if document is not None:
            reasons.append(f"{path.name} has no aggregated_metrics")
        return None
    # Upstream files before its _time_unit key are in its metadata's metrics_time_unit (seconds by default).
    time_unit = document.get("_time_unit") or default_unit
    aggregated = to_seconds(normalize_aggregated(document["aggregated_metrics"]), time_unit)
    return RunDocument(path.stem, aggregated.get("scenario", "?"), int(aggregated.get("num_concurrency") or 0),
                       aggregated, path, time_unit)


def _missing_runs(metadata: dict, runs: list[RunDocument]) -> list[str]:
    """Run files the metadata lists but the folder lacks; for a finished sweep, also runs with no file at all."""
    on_disk = {r.path.name for r in runs}
    reasons = [f"run file {name} is missing" for name in sorted(set(metadata.get("run_files") or []) - on_disk)]
    finished = metadata.get("end_time") and not metadata.get("partial")
    if finished and not reasons:
        batched = metadata.get("iteration_type") == "batch_size"
        present = {(r.scenario, r.batch_size if batched else r.concurrency) for r in runs}
        axis = "batch size" if batched else "concurrency"
        reasons = [f"no run file for {s} @ {axis} {c}"
                   for s in metadata.get("traffic_scenario") or []
                   for c in metadata.get("batch_size" if batched else "num_concurrency") or []
                   if (s, c) not in present]
    return reasons


class ExperimentLibrary:
    """The experiment folders a dashboard serves, re-read on demand so a live run's new files show up."""

    def __init__(self, folders: list[Path] = (), live_folder: Path | None = None) -> None:
        self.live_folder = Path(live_folder) if live_folder else None
        self.folders = [Path(f) for f in folders]
        self._ids = self._assign_ids()

    def _assign_ids(self) -> dict[str, Path]:
        ids: dict[str, Path] = {}
        for folder in ([self.live_folder] if self.live_folder else []) + self.folders:
            base, n = folder.name, 1
            while (candidate := base if n == 1 else f"{base}-{n}") in ids:
                n += 1
            ids[candidate] = folder
        return ids

    def experiments(self) -> list[Experiment]:
        """Every readable experiment, newest first (a live folder that has nothing yet is left out)."""
        found = []
        for experiment_id in self._ids:
            try:
                found.append(self.get(experiment_id))
            except ExperimentNotFound:
                continue
        return sorted(found, key=lambda e: e.metadata.get("start_time") or 0, reverse=True)

    def get(self, experiment_id: str) -> Experiment:
        """The experiment with this id, read now."""
        folder = self._ids.get(experiment_id)
        if folder is None:
            raise ExperimentNotFound(f"no experiment {experiment_id!r}")
        return load_experiment(folder, experiment_id, live=folder == self.live_folder)

    def select(self, where: ExperimentFilter) -> list[Experiment]:
        """The experiments whose summary passes `where`, newest first."""
        return [e for e in self.experiments() if where.matches(e.summary())]

    def historical_runs(self) -> list[dict]:
        """Every completed run of every experiment, tagged with its experiment id."""
        return [{**run.to_dict(), "experiment": e.id} for e in self.experiments() for run in e.runs]
