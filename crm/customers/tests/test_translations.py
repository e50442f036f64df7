"""The customers catalogue holds every string of the customers root modules and templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

APP = Path(__file__).resolve().parents[1]
SUB_PACKAGES = ("transfer", "duplicates", "scoring", "segments", "tests")


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_catalogue_holds_every_string_in_the_code(tmp_path: Path) -> None:
    # given a copy of crm/customers; makemessages re-extracts its own strings there
    copy = tmp_path / "customers"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    committed = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    ignores = [arg for sub in SUB_PACKAGES for arg in ("--ignore", f"{sub}/*")]
    # when
    subprocess.run(
        [
            sys.executable,
            "-P",  # the app directory holds selectors.py, which would shadow the stdlib module
            "-m",
            "django",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-location",
            *ignores,
            "--settings=crm.settings",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(APP.parents[1])},
    )
    # then nothing new was found
    assert _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po") - committed == set()
