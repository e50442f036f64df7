"""Every catalogue under crm/ is complete (no empty or fuzzy entry), and the shell's is up to date."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

CRM = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(CRM.glob("**/locale/*/LC_MESSAGES/*.po"))


def test_there_are_catalogues() -> None:
    assert CRM / "web/locale/zh_Hans/LC_MESSAGES/django.po" in CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(CRM)))
def test_catalogue_has_no_untranslated_or_fuzzy_entry(path: Path) -> None:
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif not all(strings):
            problems.append(f"untranslated: {msgid!r}")
    assert problems == [], f"{path}: run makemessages, then translate: {problems[:20]}"


@pytest.mark.parametrize("app", ["web"])
def test_shell_catalogue_holds_every_string_in_the_code(app: str, tmp_path: Path) -> None:
    # given: a copy of the app; makemessages re-extracts its strings there
    copy = tmp_path / app
    shutil.copytree(CRM / app, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    committed = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    # when
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-location", "--settings=crm.settings"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(CRM.parent)},
    )
    # then: nothing new was found
    extracted = _ids(copy / "locale/zh_Hans/LC_MESSAGES/django.po")
    assert extracted - committed == set(), f"crm/{app}: strings missing from the catalogue; run makemessages"


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
