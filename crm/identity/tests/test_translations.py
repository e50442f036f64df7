"""The identity catalogue holds every string of the code, and pages speak Chinese when asked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.test import Client

IDENTITY = Path(__file__).resolve().parents[1]


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_catalogue_holds_every_string_in_the_code(tmp_path: Path) -> None:
    # given: a copy of the app; makemessages re-extracts its strings there
    copy = tmp_path / "identity"
    shutil.copytree(IDENTITY, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    committed = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    # when (-P: the app's http.py must not shadow the standard library's http package)
    subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "django",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-location",
            "--settings=crm.settings",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(IDENTITY.parents[1])},
    )
    # then
    assert _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po") - committed == set()


@pytest.mark.django_db
def test_login_error_is_in_chinese_for_chinese_users() -> None:
    response = Client().post("/login/", {"username": "nobody", "password": "x"}, headers={"Accept-Language": "zh-hans"})
    assert "用户名或密码不正确" in response.content.decode()
