"""`crm restore DIR`: replace the database with a backup, refusing one whose rows do not match its manifest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.core.backup import BackupError, restore_backup, verify_backup


class Command(BaseCommand):
    help = "Restore a backup made by `crm backup` (verifies checksum and per-table row counts)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", help="a directory written by `crm backup`")
        parser.add_argument("--yes", action="store_true", help="do not ask before replacing the current data")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["directory"])
        try:
            manifest = verify_backup(directory)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest.tables.values())
        self.stdout.write(f"Backup of {manifest.created_at}: {len(manifest.tables)} tables, {rows} rows.")
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("Refusing to replace the data without --yes")
            answer = input("This REPLACES the current database. Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Cancelled")
        try:
            live = restore_backup(directory)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {len(live)} tables, {sum(live.values())} rows; counts match."))
