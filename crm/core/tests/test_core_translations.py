"""crm/core's catalogue holds every string in the code, and the API answers in Chinese when asked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.test import Client

CORE = Path(__file__).resolve().parents[1]


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_core_catalogue_holds_every_string_in_the_code(tmp_path: Path) -> None:
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    committed = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    subprocess.run(
        # django-admin, not `python -m django`: crm/core/logging.py would shadow the stdlib module.
        [
            str(Path(sys.executable).with_name("django-admin")),
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-location",
            "--settings=crm.settings",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(CORE.parent.parent)},
    )
    extracted = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    assert extracted - committed == set(), "crm/core: run makemessages in crm/core and translate"


@pytest.mark.django_db
def test_problem_details_are_chinese_for_a_chinese_client(client: Client) -> None:
    response = client.get("/api/v1/audit-log", headers={"Accept-Language": "zh-hans"})
    assert response.status_code == 401
    assert response.json()["title"] == "需要身份验证"
