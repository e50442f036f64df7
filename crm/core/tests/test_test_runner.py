"""scripts/test.sh (behind `make test` and `.ci/run`): PostgreSQL required means required; no tests is a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# The script is the same whatever the database: run these once, in the SQLite pass.
pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="database-independent; SQLite pass only")

ROOT = Path(__file__).resolve().parents[3]
ONE_TEST = "crm/core/tests/test_platform.py::test_healthz_answers_ok"


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "PYTEST_")) and k != "DATABASE_URL"}
    return subprocess.run(
        ["bash", "scripts/test.sh", *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_unreachable_postgresql_fails_when_required() -> None:
    result = run_script(ONE_TEST, TEST_PG_URL="postgresql://postgres@127.0.0.1:1/crm_x", CRM_TEST_POSTGRES="required")
    assert "1 passed" in result.stdout
    assert result.returncode == 1
    assert "not reachable" in result.stderr


def test_unreachable_postgresql_is_reported_as_skipped_when_optional() -> None:
    result = run_script(ONE_TEST, TEST_PG_URL="postgresql://postgres@127.0.0.1:1/crm_x", CRM_TEST_POSTGRES="auto")
    assert result.returncode == 0
    assert "SKIPPED" in result.stderr


def test_no_tests_collected_is_a_failure() -> None:
    result = run_script("-k", "no_test_has_this_name", CRM_TEST_POSTGRES="skip")
    assert result.returncode != 0
