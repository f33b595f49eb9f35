"""Experiments read from the results database, with the interface of results.ExperimentLibrary, so that `serve
--results-db` and `report --results-db` show them through the same endpoints and views as folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from genai_bench.database.store import ResultsStore, experiment_uid
from genai_bench.metrics import histogram
from genai_bench.results import (MAX_DRILLDOWN_REQUESTS, Experiment, ExperimentFilter, ExperimentLibrary,
                                 ExperimentNotFound, RunDocument)


@dataclass
class StoredRun(RunDocument):
    """A run read from the database; its drill-down comes from the stored request records."""

    store: ResultsStore | None = None
    run_id: int = 0
    total: int = 0

    def requests(self, limit: int = MAX_DRILLDOWN_REQUESTS) -> dict:
        """The drill-down answer of results.RunDocument.requests, from the stored (possibly sampled) records."""
        rows = self.store.request_rows(self.run_id) if self.store else []
        points = [{"t": r["t"], "ttft": r["ttft"], "tpot": r["tpot"], "e2e_latency": r["e2e_latency"],
                   "output_tokens": r["output_tokens"], "error_code": r["error_code"]} for r in rows]
        histograms = {metric: histogram(values) for metric in ("ttft", "tpot", "e2e_latency")
                      if (values := [p[metric] for p in points if p[metric] is not None and not p["error_code"]])}
        step = max(1, -(-len(points) // limit))
        return {"total": self.total, "sampled": step > 1 or len(points) < self.total, "requests": points[::step],
                "histograms": histograms, "server_metrics": None}


@dataclass
class StoredExperiment(Experiment):
    """An experiment read from the database (runs loaded when it is opened, counted when it is listed)."""

    run_count: int = 0
    labels: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The results API's Summary, plus where it came from."""
        return {**super().summary(), **self.labels, "id": self.id, "name": self.folder.name,
                "run_count": max(self.run_count, len(self.runs)), "source": "database"}


def stored_experiment(row: dict, runs: list[RunDocument] = ()) -> StoredExperiment:
    """An experiments-table row as a StoredExperiment."""
    labels = {name: row[name] for name in ("model", "api_backend", "server_engine", "server_version",
                                           "server_gpu_type", "start_time", "end_time")}
    reasons = list(row["partial_reasons"] or [])
    if row["partial"] and not reasons:
        reasons = ["the benchmark was interrupted (or is still running)"]
    return StoredExperiment(row["uid"], Path(row["folder"] or row["name"]).with_name(row["name"]),
                            row["metadata"] or {}, list(runs), reasons, run_count=row.get("run_count") or 0,
                            labels=labels)


class DatabaseLibrary:
    """The experiments of a results database, queried on demand (a live benchmark's new runs show up)."""

    live_folder = None

    def __init__(self, store: ResultsStore) -> None:
        self.store = store

    def experiments(self) -> list[Experiment]:
        """Every experiment, newest first."""
        return self.select(ExperimentFilter())

    def select(self, where: ExperimentFilter) -> list[Experiment]:
        """The experiments passing `where`, newest first (the filter runs in SQL)."""
        return [stored_experiment(row) for row in self.store.experiment_rows(where)]

    def get(self, experiment_id: str) -> Experiment:
        """One experiment with its runs."""
        row = self.store.experiment_row(experiment_id)
        if row is None:
            raise ExperimentNotFound(f"no experiment {experiment_id!r} in the results database")
        folder = Path(row["folder"] or row["name"])
        runs = [StoredRun(r["run_key"], r["scenario"], r["concurrency"] or 0, r["aggregated"],
                          folder / f"{r['run_key']}.json", "s", store=self.store, run_id=r["id"],
                          total=r["requests_total"]) for r in self.store.run_rows(row["id"])]
        return stored_experiment(row, runs)

    def historical_runs(self) -> list[dict]:
        """Every run of every experiment, tagged with its experiment id."""
        return [{**run.to_dict(), "experiment": e.id} for e in map(lambda s: self.get(s.id), self.experiments())
                for run in e.runs]


class CombinedLibrary(ExperimentLibrary):
    """Experiment folders (and a live one) plus a results database, listed together with unique ids.

    Folder ids are folder names; database ids are a name plus a digest of the start time. An experiment both in a
    given folder and in the database is listed once, from its folder (which has every request and can be replayed).
    """

    def __init__(self, database: DatabaseLibrary, folders: list[Path] = (), live_folder: Path | None = None) -> None:
        super().__init__(folders, live_folder)
        self.database = database
        self.store = database.store

    def experiments(self) -> list[Experiment]:
        """Every experiment of both sources, newest first."""
        return self.select(ExperimentFilter())

    def select(self, where: ExperimentFilter) -> list[Experiment]:
        """The folders' experiments passing `where`, then the database's not already listed, newest first."""
        in_folders = super().experiments()
        # The folders' ids, and the uids their experiments have (or would have) in the database.
        taken = set(self._ids) | {experiment_uid(e) for e in in_folders}
        found = [e for e in in_folders if where.matches(e.summary())]
        found += [e for e in self.database.select(where) if e.id not in taken]
        return sorted(found, key=lambda e: e.metadata.get("start_time") or 0, reverse=True)

    def get(self, experiment_id: str) -> Experiment:
        """A folder's experiment by its id, else the database's."""
        if experiment_id in self._ids:
            return super().get(experiment_id)
        return self.database.get(experiment_id)

    def historical_runs(self) -> list[dict]:
        """Every run of every listed experiment, tagged with its experiment id."""
        return [{**run.to_dict(), "experiment": e.id} for e in self.experiments()
                for run in (e.runs if e.id in self._ids else self.database.get(e.id).runs)]
