"""Which experiments a results view lists: labels, scenario and a date range, from query parameters or options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

# Query parameter (and report option) -> the Summary field it matches.
LABEL_FIELDS = {"model": "model", "engine": "server_engine", "version": "server_version", "gpu": "server_gpu_type"}
DATE_FORM = "give a date (2026-11-30), a date and time (2026-11-30T14:00) or unix seconds"


def parse_time(text: str, end_of_day: bool = False) -> float:
    """Unix seconds of a date, an ISO date-time (UTC unless it names a zone) or a number; ValueError otherwise."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: {DATE_FORM}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if end_of_day and len(text) == 10:  # a bare date as the end of a range includes that whole day
        moment += timedelta(days=1)
    return moment.timestamp()


@dataclass(frozen=True)
class ExperimentFilter:
    """Labels to match (case-insensitively), a scenario the experiment ran, and a start-time range (unix s)."""

    model: str | None = None
    engine: str | None = None
    version: str | None = None
    gpu: str | None = None
    scenario: str | None = None
    since: float | None = None  # started at or after
    until: float | None = None  # started before

    @classmethod
    def of(cls, params: Mapping[str, str | None]) -> ExperimentFilter:
        """From query parameters or options (model, engine, version, gpu, scenario, since, until); ValueError names
        the bad one."""
        labels = {name: (params.get(name) or "").strip() or None for name in (*LABEL_FIELDS, "scenario")}
        times = {}
        for name in ("since", "until"):
            if params.get(name):
                try:
                    times[name] = parse_time(str(params[name]), end_of_day=name == "until")
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return cls(**labels, **times)

    def __bool__(self) -> bool:
        return any(value is not None for value in asdict(self).values())

    def matches(self, summary: dict) -> bool:
        """Whether an experiment's Summary passes."""
        for name, summary_field in LABEL_FIELDS.items():
            wanted = getattr(self, name)
            if wanted is not None and str(summary.get(summary_field) or "").lower() != wanted.lower():
                return False
        if self.scenario is not None and self.scenario not in (summary.get("traffic_scenario") or []):
            return False
        start = summary.get("start_time")
        if self.since is not None and (start is None or start < self.since):
            return False
        return self.until is None or (start is not None and start < self.until)
