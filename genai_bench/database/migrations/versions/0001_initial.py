"""The first schema: experiments, runs, requests.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create the three tables and the indexes of the usual queries (by labels, date, scenario and load)."""
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(255), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("folder", sa.Text),
        sa.Column("model", sa.String(255)),
        sa.Column("api_backend", sa.String(128)),
        sa.Column("task", sa.String(128)),
        sa.Column("server_engine", sa.String(128)),
        sa.Column("server_version", sa.String(128)),
        sa.Column("server_gpu_type", sa.String(128)),
        sa.Column("server_gpu_count", sa.Integer),
        sa.Column("start_time", sa.Float),
        sa.Column("end_time", sa.Float),
        sa.Column("partial", sa.Boolean, nullable=False),
        sa.Column("partial_reasons", JSON),
        sa.Column("metadata", JSON),
        sa.Column("written_at", sa.Float, nullable=False),
    )
    op.create_index("ix_experiments_model_engine", "experiments", ["model", "server_engine", "server_version"])
    op.create_index("ix_experiments_gpu", "experiments", ["server_gpu_type"])
    op.create_index("ix_experiments_start_time", "experiments", ["start_time"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("scenario", sa.String(255), nullable=False),
        sa.Column("concurrency", sa.Integer),
        sa.Column("batch_size", sa.Integer),
        sa.Column("request_rate", sa.Float),
        sa.Column("partial", sa.Boolean, nullable=False),
        *(sa.Column(name, sa.Integer) for name in ("num_requests", "num_completed", "num_errors")),
        *(sa.Column(name, sa.Float) for name in ("error_rate", "requests_per_second", "output_tokens_per_second",
                                                 "ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99", "e2e_latency_p50",
                                                 "e2e_latency_p99")),
        sa.Column("requests_total", sa.Integer, nullable=False),
        sa.Column("requests_stored", sa.Integer, nullable=False),
        sa.Column("aggregated", JSON, nullable=False),
        sa.UniqueConstraint("experiment_id", "run_key", name="uq_runs_experiment_run_key"),
    )
    op.create_index("ix_runs_scenario_concurrency", "runs", ["scenario", "concurrency"])
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Float) for name in ("t", "ttft", "tpot", "e2e_latency")),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("error_code", sa.String(64)),
        sa.UniqueConstraint("run_id", "seq", name="uq_requests_run_seq"),
    )


def downgrade() -> None:
    """Drop everything."""
    op.drop_table("requests")
    op.drop_table("runs")
    op.drop_table("experiments")
