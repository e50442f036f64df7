#!/usr/bin/env bash
# Runs the suite on SQLite, then on PostgreSQL. CRM_TEST_POSTGRES: required | auto (default) | skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRM_ENV=test CRM_TASK_BACKEND=immediate DJANGO_ALLOW_ASYNC_UNSAFE=true
PG_URL="${TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/crm}"
MODE="${CRM_TEST_POSTGRES:-auto}"
PYTEST=(.venv/bin/pytest -p no:cacheprovider "$@")

echo "== tests on SQLite =="
env -u DATABASE_URL "${PYTEST[@]}"

if [ "$MODE" = "skip" ]; then
  echo "!! PostgreSQL run skipped (CRM_TEST_POSTGRES=skip)"; exit 0
fi
if ! .venv/bin/python scripts/pg_ready.py "$PG_URL"; then
  if [ "$MODE" = "required" ]; then
    echo "!! PostgreSQL at $PG_URL is not reachable and CRM_TEST_POSTGRES=required: failing." >&2; exit 1
  fi
  echo "!! PostgreSQL at $PG_URL is not reachable: its run was SKIPPED (set CRM_TEST_POSTGRES=required to fail)." >&2
  exit 0
fi
echo "== tests on PostgreSQL ($PG_URL) =="
DATABASE_URL="$PG_URL" "${PYTEST[@]}" -m "not browser"
