"""A `genai_bench.sinks` plugin: every event of a benchmark, one CSV row each, in <experiment folder>/events.csv."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

COLUMNS = ("id", "event_type", "timestamp", "data")
FILE_ENV = "GENAI_BENCH_EXAMPLE_CSV"  # write here instead of the experiment folder


class CsvEventSink:
    """Appends each event as id, event_type, timestamp and its data as JSON; the file is opened on the first event,
    since the experiment folder is only created when the benchmark starts."""

    def __init__(self, context) -> None:
        self.path = Path(os.environ.get(FILE_ENV) or Path(context.experiment_folder) / "events.csv")
        self._file = None
        self._writer = None

    def handle(self, event: dict) -> None:
        """Write one event (called by genai-bench for every event it publishes)."""
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow(COLUMNS)
        self._writer.writerow([event["id"], event["event_type"], event["timestamp"],
                               json.dumps(event["data"], separators=(",", ":"), default=str)])

    def close(self) -> None:
        """Flush and close the file at the end of the benchmark."""
        if self._file is not None:
            self._file.close()
            self._file = None
