"""WSGI entry point: `gunicorn -k gevent -w 1 wsgi:app` (configured by GENAI_BENCH_* environment variables)."""

import genai_bench  # noqa: F401  (patches gevent first)
from genai_bench.deployment import app_from_environment

app = app_from_environment()
