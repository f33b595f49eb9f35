"""The experiment folder: metadata and one run file per scenario × concurrency, written atomically."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

METADATA_FILE = "experiment_metadata.json"
EVENTS_FILE = "events.ndjson"


def write_json_atomic(path: Path, data: dict) -> Path:
    """Write JSON to a temp file beside `path`, then rename it over `path`, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=False, default=_json_default)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def default_folder_name(backend: str, task: str, model: str, started: float) -> str:
    """`<backend>_<task>_<model>_<YYYYmmdd_HHMMSS>`, with the model made safe for a file name."""
    import time

    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(started))
    return f"{backend}_{task}_{safe_name(model)}_{stamp}"


def safe_name(text: str) -> str:
    """Replace characters that do not belong in a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def run_file_name(scenario_name: str, task: str, concurrency: int, max_time_seconds: float) -> str:
    """Upstream genai-bench's run file name, e.g. D100_100_text-to-text_num_concurrency_8_time_60s.json."""
    return f"{scenario_name}_{task}_num_concurrency_{concurrency}_time_{int(round(max_time_seconds))}s.json"


class ExperimentWriter:
    """Writes one experiment folder: metadata at the start and end, a run file as soon as each run ends."""

    def __init__(self, folder: Path, task: str, max_time_seconds: float, time_unit: str, clock_offset: float) -> None:
        self.folder = Path(folder)
        self.task = task
        self.max_time_seconds = max_time_seconds
        self.time_unit = time_unit
        self.clock_offset = clock_offset
        self.run_files: list[Path] = []

    def write_metadata(self, metadata: dict) -> Path:
        """Write experiment_metadata.json."""
        return write_json_atomic(self.folder / METADATA_FILE, metadata)

    def write_run(self, result) -> Path:
        """Write the run file of a finished run (a runner.RunResult)."""
        name = run_file_name(result.scenario.name, self.task, result.concurrency, self.max_time_seconds)
        document = {
            "aggregated_metrics": result.statistics.to_dict(self.time_unit),
            "individual_request_metrics": [m.to_dict(self.clock_offset, self.time_unit) for m in result.requests],
            "_time_unit": self.time_unit,
        }
        path = write_json_atomic(self.folder / name, document)
        self.run_files.append(path)
        return path


class EventLogWriter:
    """Appends every published event to events.ndjson as it happens, flushed, so a crash loses at most one event."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle = None

    def write(self, event) -> None:
        """Append one event (a bus listener); the file is opened on the first event."""
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        self._handle.write(event.json + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
