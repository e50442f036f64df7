"""`crm backup`: a consistent copy of the database plus a manifest of per-table row counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.core.backup import BackupError, default_directory, make_backup


class Command(BaseCommand):
    help = "Back up the database (SQLite online backup or pg_dump) into a new directory with manifest.json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "directory", nargs="?", help="new directory to write (default: CRM_DATA_DIR/backups/crm-<time>)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["directory"]) if options["directory"] else default_directory(settings.DATA_DIR)
        if directory.exists():
            raise CommandError(f"{directory} already exists; give a new directory")
        try:
            manifest = make_backup(directory)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest.tables.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {len(manifest.tables)} tables, {rows} rows ({manifest.engine}) to {directory}"
            )
        )
