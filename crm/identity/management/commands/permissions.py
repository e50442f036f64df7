"""`crm permissions docs`: write docs/permissions.md from the built-in roles table (or --check it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.identity.builtin_roles import render_markdown


def docs_path() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "permissions.md"


class Command(BaseCommand):
    help = "Render the built-in roles' permission table into docs/permissions.md."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        docs = sub.add_parser("docs", help="Write docs/permissions.md.")
        docs.add_argument("--check", action="store_true", help="Exit non-zero if the file is out of date.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = docs_path()
        wanted = render_markdown() + "\n"
        if options["check"]:
            if not path.exists() or path.read_text(encoding="utf-8") != wanted:
                raise CommandError(f"{path} is out of date: run `crm permissions docs`")
            self.stdout.write(f"{path} is up to date")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
