"""The results database: connect (migrating the schema to the newest version), write experiments and runs read
through the results reader, and query them back.

Writes are idempotent: an experiment is keyed by its uid (folder name + its start time), a run by (experiment, run
key), so writing a folder again (a live run, then `db import`) replaces rows instead of adding new ones.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import orjson

from genai_bench.database.settings import database_url, is_postgres, require_db_extra, scrub, shown_url
from genai_bench.results import Experiment, ExperimentFilter, RunDocument

MIGRATIONS = Path(__file__).parent / "migrations"
# How long opening a PostgreSQL connection may take before the database counts as down.
CONNECT_TIMEOUT_SECONDS = 5
# Upstream genai-bench's aggregated-metric names first, then ours: a run file written either way is read.
RUN_FIGURES = {
    "num_requests": ("num_requests",),
    "num_completed": ("num_completed_requests", "num_completed"),
    "num_errors": ("num_error_requests", "num_errors"),
    "error_rate": ("error_rate",),
    "requests_per_second": ("requests_per_second",),
    "output_tokens_per_second": ("mean_output_throughput_tokens_per_s", "output_tokens_per_second"),
}
PERCENTILE_COLUMNS = tuple((metric, stat) for metric in ("ttft", "tpot", "e2e_latency") for stat in ("p50", "p99"))


class DatabaseError(RuntimeError):
    """The results database cannot be reached or written; the message is one line, without credentials."""


def experiment_uid(experiment: Experiment) -> str:
    """An experiment's key in the database: its name and a digest of its start time (names can repeat)."""
    start = experiment.metadata.get("start_time")
    digest = hashlib.sha1(f"{experiment.folder.name}|{start!r}".encode()).hexdigest()[:8]
    return f"{experiment.folder.name}-{digest}"


def _json(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                        default=str).decode()


def run_row(run: RunDocument) -> dict:
    """A run's columns: identity, load, the figures people sort by, and all its aggregated metrics."""
    agg = run.aggregated
    row = {column: next((agg[name] for name in names if agg.get(name) is not None), None)
           for column, names in RUN_FIGURES.items()}
    stats = agg.get("stats") or {}
    row.update({f"{metric}_{stat}": (stats.get(metric) or {}).get(stat) for metric, stat in PERCENTILE_COLUMNS})
    return {**row, "run_key": run.key, "scenario": run.scenario, "concurrency": run.concurrency,
            "batch_size": run.batch_size, "request_rate": agg.get("request_rate"), "partial": run.partial,
            "aggregated": agg}


class ResultsStore:
    """One results database (SQLite or PostgreSQL) through SQLAlchemy Core; use it from one thread at a time."""

    def __init__(self, url: str) -> None:
        self.given = url
        self.url = database_url(url)
        require_db_extra(self.url)
        import sqlalchemy as sa

        from genai_bench.database import schema

        self.sa, self.schema = sa, schema
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if is_postgres(self.url) else {}
        self.engine = sa.create_engine(self.url, json_serializer=_json, json_deserializer=orjson.loads,
                                       connect_args=connect_args, pool_pre_ping=True)

    @property
    def shown(self) -> str:
        """The URL as given, for people (password hidden)."""
        return shown_url(self.given)

    @classmethod
    def connect(cls, url: str) -> ResultsStore:
        """Open the database and bring its schema to the newest version; DatabaseError when it cannot."""
        store = cls(url)
        try:
            store.migrate()
        except Exception as exc:
            store.close()
            raise DatabaseError(one_line(exc)) from None
        return store

    def migrate(self) -> None:
        """Apply the package's Alembic migrations up to head (a new database gets every table)."""
        from alembic import command
        from alembic.config import Config

        if self.url.startswith("sqlite:///") and not self.url.startswith("sqlite:///:memory:"):
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ---- writing

    def save_experiment(self, experiment: Experiment) -> int:
        """Insert or update an experiment's row (labels, times, metadata with secrets hidden); its id."""
        table = self.schema.experiments
        summary = experiment.summary()
        meta = experiment.metadata
        row = {"uid": experiment_uid(experiment), "name": experiment.folder.name, "folder": summary["folder"],
               "model": summary["model"], "api_backend": summary["api_backend"], "task": meta.get("task"),
               "server_engine": summary["server_engine"], "server_version": summary["server_version"],
               "server_gpu_type": summary["server_gpu_type"], "server_gpu_count": meta.get("server_gpu_count"),
               "start_time": summary["start_time"], "end_time": summary["end_time"],
               "partial": bool(summary["partial"] or meta.get("partial")),
               "partial_reasons": summary["partial_reasons"], "metadata": scrub(meta), "written_at": time.time()}
        with self.engine.begin() as db:
            found = db.execute(self.sa.select(table.c.id).where(table.c.uid == row["uid"])).scalar()
            if found is not None:
                db.execute(table.update().where(table.c.id == found).values(**row))
                return found
            return db.execute(table.insert().values(**row)).inserted_primary_key[0]

    def save_run(self, experiment_id: int, run: RunDocument, request_limit: int | None) -> int:
        """Insert or replace a run and its request records (none, an even sample of `request_limit`, or all)."""
        runs, requests = self.schema.runs, self.schema.requests
        answer = run.requests(limit=max(request_limit, 1)) if request_limit is not None else run.requests(limit=10**12)
        points = answer["requests"] if request_limit != 0 else []
        step = max(1, -(-answer["total"] // len(points))) if points else 1
        row = {**run_row(run), "experiment_id": experiment_id, "requests_total": answer["total"],
               "requests_stored": len(points)}
        with self.engine.begin() as db:
            key = (runs.c.experiment_id == experiment_id) & (runs.c.run_key == run.key)
            found = db.execute(self.sa.select(runs.c.id).where(key)).scalar()
            if found is not None:
                db.execute(requests.delete().where(requests.c.run_id == found))
                db.execute(runs.update().where(runs.c.id == found).values(**row))
                run_id = found
            else:
                run_id = db.execute(runs.insert().values(**row)).inserted_primary_key[0]
            if points:
                db.execute(requests.insert(), [
                    {"run_id": run_id, "seq": i * step, "t": p["t"], "ttft": p["ttft"], "tpot": p["tpot"],
                     "e2e_latency": p["e2e_latency"], "output_tokens": p["output_tokens"],
                     "error_code": None if p["error_code"] is None else str(p["error_code"])[:64]}
                    for i, p in enumerate(points)])
        return run_id

    def save_folder(self, experiment: Experiment, request_limit: int | None) -> int:
        """An experiment read back from its folder, with every run; its id."""
        experiment_id = self.save_experiment(experiment)
        for run in experiment.runs:
            self.save_run(experiment_id, run, request_limit)
        return experiment_id

    # ---- reading

    def experiment_rows(self, where: ExperimentFilter = ExperimentFilter()) -> list[dict]:
        """Experiments passing `where`, newest first, each with its run count."""
        sa, e, r = self.sa, self.schema.experiments, self.schema.runs
        run_count = sa.select(sa.func.count(r.c.id)).where(r.c.experiment_id == e.c.id).scalar_subquery()
        query = sa.select(e, run_count.label("run_count")).order_by(e.c.start_time.desc().nulls_last(), e.c.id.desc())
        for name, column in (("model", e.c.model), ("engine", e.c.server_engine), ("version", e.c.server_version),
                             ("gpu", e.c.server_gpu_type)):
            if getattr(where, name) is not None:
                query = query.where(sa.func.lower(column) == getattr(where, name).lower())
        if where.scenario is not None:
            query = query.where(sa.exists().where((r.c.experiment_id == e.c.id) & (r.c.scenario == where.scenario)))
        if where.since is not None:
            query = query.where(e.c.start_time >= where.since)
        if where.until is not None:
            query = query.where(e.c.start_time < where.until)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def experiment_row(self, uid: str) -> dict | None:
        """One experiment's row, or None."""
        e = self.schema.experiments
        with self.engine.connect() as db:
            row = db.execute(self.sa.select(e).where(e.c.uid == uid)).first()
        return dict(row._mapping) if row else None

    def run_rows(self, experiment_id: int) -> list[dict]:
        """An experiment's runs, ordered by scenario, batch size and concurrency."""
        r = self.schema.runs
        query = self.sa.select(r).where(r.c.experiment_id == experiment_id).order_by(
            r.c.scenario, r.c.batch_size, r.c.concurrency, r.c.run_key)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def request_rows(self, run_id: int) -> list[dict]:
        """A run's stored request records, in order."""
        q = self.schema.requests
        query = self.sa.select(q.c.t, q.c.ttft, q.c.tpot, q.c.e2e_latency, q.c.output_tokens, q.c.error_code).where(
            q.c.run_id == run_id).order_by(q.c.seq)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]


def one_line(exc: BaseException) -> str:
    """An exception as one short line (drivers' messages run over several), credentials hidden."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
    return scrub(text)[:300]
