"""Fixtures for import/export tests: uploaded files are written under a per-test data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from crm.testing.factories import make_user


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "files"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def admin(db: Any) -> Any:
    return make_user(username="boss", superuser=True)


@pytest.fixture
def admin_session(admin: Any) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(admin)
    return client
