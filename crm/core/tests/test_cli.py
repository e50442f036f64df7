"""The `crm` console script and its platform commands."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_check_reports_keys_database_and_migrations() -> None:
    out = io.StringIO()
    call_command("check", stdout=out)
    text = out.getvalue()
    assert "ok   keys" in text
    assert "ok   database" in text
    assert "ok   migrations: ok" in text


def test_check_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    # given: a fresh data directory whose SQLite file has no tables yet
    env = {"CRM_ENV": "development", "CRM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # when
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", "check"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    # then
    assert result.returncode == 1
    assert "FAIL migrations" in result.stdout


def test_crm_help_lists_the_platform_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", "help"],
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for name in ("serve", "worker", "demo", "firstrun", "backup", "restore", "check", "migrate"):
        assert f"    {name}\n" in result.stdout
