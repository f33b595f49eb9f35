"""The results database's tables (SQLAlchemy Core); migrations/ creates and evolves them, this module queries them.

One row per experiment (its labels as columns, its metadata as JSON), one per run (its key figures as columns for
sorting and SQL, all its aggregated metrics as JSON) and, as --results-db-requests asks, one per request.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL, so that `aggregated -> 'stats' -> 'ttft' ->> 'p99'` works in SQL; JSON text elsewhere.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NAME = sa.String(255)
LABEL = sa.String(128)

metadata = sa.MetaData()

experiments = sa.Table(
    "experiments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uid", NAME, nullable=False, unique=True),  # folder name + digest of its start time (see store.py)
    sa.Column("name", NAME, nullable=False),
    sa.Column("folder", sa.Text),
    sa.Column("model", NAME),
    sa.Column("api_backend", LABEL),
    sa.Column("task", LABEL),
    sa.Column("server_engine", LABEL),
    sa.Column("server_version", LABEL),
    sa.Column("server_gpu_type", LABEL),
    sa.Column("server_gpu_count", sa.Integer),
    sa.Column("start_time", sa.Float),  # unix seconds
    sa.Column("end_time", sa.Float),  # null while the benchmark runs (or when it crashed)
    sa.Column("partial", sa.Boolean, nullable=False, default=False),
    sa.Column("partial_reasons", JSON),
    sa.Column("metadata", JSON),  # experiment_metadata.json, secrets hidden
    sa.Column("written_at", sa.Float, nullable=False),
    sa.Index("ix_experiments_model_engine", "model", "server_engine", "server_version"),
    sa.Index("ix_experiments_gpu", "server_gpu_type"),
    sa.Index("ix_experiments_start_time", "start_time"),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("run_key", NAME, nullable=False),  # the run file's stem
    sa.Column("scenario", NAME, nullable=False),
    sa.Column("concurrency", sa.Integer),
    sa.Column("batch_size", sa.Integer),
    sa.Column("request_rate", sa.Float),
    sa.Column("partial", sa.Boolean, nullable=False, default=False),
    sa.Column("num_requests", sa.Integer),
    sa.Column("num_completed", sa.Integer),
    sa.Column("num_errors", sa.Integer),
    sa.Column("error_rate", sa.Float),
    sa.Column("requests_per_second", sa.Float),
    sa.Column("output_tokens_per_second", sa.Float),
    sa.Column("ttft_p50", sa.Float),  # seconds
    sa.Column("ttft_p99", sa.Float),
    sa.Column("tpot_p50", sa.Float),
    sa.Column("tpot_p99", sa.Float),
    sa.Column("e2e_latency_p50", sa.Float),
    sa.Column("e2e_latency_p99", sa.Float),
    sa.Column("requests_total", sa.Integer, nullable=False, default=0),  # in the run file
    sa.Column("requests_stored", sa.Integer, nullable=False, default=0),  # in the requests table
    sa.Column("aggregated", JSON, nullable=False),  # the run's aggregated metrics, latencies in seconds
    sa.UniqueConstraint("experiment_id", "run_key", name="uq_runs_experiment_run_key"),
    sa.Index("ix_runs_scenario_concurrency", "scenario", "concurrency"),
)

requests = sa.Table(
    "requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # position in the run (sampled runs keep the original order)
    sa.Column("t", sa.Float),  # start, seconds after the run's first request started
    sa.Column("ttft", sa.Float),
    sa.Column("tpot", sa.Float),
    sa.Column("e2e_latency", sa.Float),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("error_code", sa.String(64)),
    sa.UniqueConstraint("run_id", "seq", name="uq_requests_run_seq"),
)
