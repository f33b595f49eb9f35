#!/usr/bin/env bash
# Set up genai-bench on a fresh machine: a virtualenv in .venv with the package installed (pip install .).
# With --test it also installs the test tools, the datasets, images, excel, plot, parquet, redis and db extras,
# Debian's chromium for the browser tests, redis-server for the Redis fan-out tests, iproute2 (network namespaces)
# and postgresql for the results-database tests.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$want_tests" = 1 ]; then
  .venv/bin/python -m pip install --quiet ".[test,datasets,images,excel,plot,parquet,redis,db]"
else
  .venv/bin/python -m pip install --quiet .
fi

if [ "$want_tests" = 1 ] && ! { command -v chromium && command -v redis-server && command -v ip \
    && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1; then
  # Browser tests drive Debian's chromium through playwright (no browser download); the Redis and results-database
  # tests start redis-server and PostgreSQL themselves on free ports (the packages' own services are not needed).
  as_root=""
  [ "$(id -u)" = 0 ] || as_root="sudo"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium redis-server iproute2 postgresql >/dev/null
fi
echo "genai-bench is installed in .venv ($(.venv/bin/genai-bench --version))"
