"""The results database (--results-db): experiments, runs and request records in SQLite or PostgreSQL.

SQLAlchemy Core over a schema versioned with Alembic migrations (applied at connect). The experiment folder stays
the source of truth; the database is written beside it and `genai-bench db import` loads folders written earlier.
"""

from genai_bench.database.settings import REQUEST_MODES, ResultsDbSettings, database_url, scrub, shown_url
from genai_bench.database.store import DatabaseError, ResultsStore, experiment_uid

__all__ = ["REQUEST_MODES", "DatabaseError", "ResultsDbSettings", "ResultsStore", "database_url", "experiment_uid",
           "scrub", "shown_url"]
