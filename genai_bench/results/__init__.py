"""The experiment folder: written as a benchmark runs (writer), read back by serve, report and replay (reader)."""

from genai_bench.results.reader import (
    MAX_DRILLDOWN_REQUESTS,
    Experiment,
    ExperimentLibrary,
    ExperimentNotFound,
    RunDocument,
    load_experiment,
    load_run,
    read_events,
    to_seconds,
)
from genai_bench.results.filters import ExperimentFilter
from genai_bench.results.writer import (
    EVENTS_FILE,
    METADATA_FILE,
    EventLogWriter,
    ExperimentWriter,
    default_folder_name,
    safe_name,
    write_json_atomic,
)

__all__ = [
    "EVENTS_FILE", "MAX_DRILLDOWN_REQUESTS", "METADATA_FILE", "EventLogWriter", "Experiment", "ExperimentFilter",
    "ExperimentLibrary",
    "ExperimentNotFound", "ExperimentWriter", "RunDocument", "default_folder_name", "load_experiment", "load_run", "read_events",
    "safe_name", "to_seconds", "write_json_atomic",
]
