"""Settings come from the environment and production refuses insecure defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GOOD = {
    "CRM_SECRET_KEY": "s" * 50,
    "CRM_ENCRYPTION_KEYS": "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
    "CRM_BLIND_INDEX_KEY": "YmxpbmQtaW5kZXgta2V5LWZvci10ZXN0cy0zMmJ5dGVzIQ==",
}


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") and k != "DATABASE_URL"}
    clean.update(env)
    code = "import crm.settings as s; print(s.DEBUG, s.TASK_BACKEND, s.DATABASES['default']['ENGINE'])"
    return subprocess.run(
        [sys.executable, "-c", code], env=clean, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_production_refuses_the_default_secret_key() -> None:
    result = load_settings(**{**GOOD, "CRM_SECRET_KEY": ""})
    assert result.returncode != 0
    assert "CRM_SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = load_settings(**{**GOOD, "CRM_SECRET_KEY": "short"})
    assert "CRM_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", ["CRM_ENCRYPTION_KEYS", "CRM_BLIND_INDEX_KEY"])
def test_production_refuses_default_encryption_keys(missing: str) -> None:
    result = load_settings(**{k: v for k, v in GOOD.items() if k != missing})
    assert result.returncode != 0
    assert "CRM_ENCRYPTION_KEYS" in result.stderr


def test_production_refuses_debug() -> None:
    result = load_settings(**GOOD, CRM_DEBUG="true")
    assert result.returncode != 0
    assert "CRM_DEBUG" in result.stderr


def test_production_starts_with_real_keys_and_debug_off() -> None:
    result = load_settings(**GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "database", "django.db.backends.sqlite3"]


def test_database_url_selects_postgresql() -> None:
    result = load_settings(**GOOD, DATABASE_URL="postgresql://crm@127.0.0.1:5432/crm")
    assert result.stdout.split()[-1] == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    ("name", "value"),
    [("CRM_DEBUG", "maybe"), ("CRM_ENV", "staging"), ("CRM_MAX_BODY_BYTES", "big"), ("CRM_TASK_BACKEND", "redis")],
)
def test_bad_values_fail_fast(name: str, value: str) -> None:
    result = load_settings(**GOOD, **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_every_setting_read_is_listed_in_env_example() -> None:
    # given: every CRM_* name the code reads
    import re

    read: set[str] = set()
    for path in (ROOT / "crm").rglob("*.py"):
        if "tests" in path.parts:
            continue
        read |= set(re.findall(r"""["'](CRM_[A-Z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    listed = set(re.findall(r"^#?\s*(CRM_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    # then
    assert read - listed == set()
