"""`crm audit verify`: walk the hash chain and name the first row that was modified, removed or moved."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.core.audit import verify_chain
from crm.core.models import AuditEntry


class Command(BaseCommand):
    help = "Audit trail tools. `verify` checks the hash chain; exits non-zero at the first broken row."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Check every row's hash and link; name the first broken row.")
        verify.add_argument("--all", action="store_true", help="List every break, not only the first.")

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = []
        for found in verify_chain():
            breaks.append(found)
            if not options["all"]:
                break
        if not breaks:
            count = AuditEntry.objects.count()
            self.stdout.write(self.style.SUCCESS(f"audit chain intact: {count} entries"))
            return
        for found in breaks:
            self.stderr.write(f"broken at entry #{found.seq} (id {found.entry_id}): {found.reason}")
        first = breaks[0]
        raise CommandError(f"audit chain broken at entry #{first.seq} (id {first.entry_id})", returncode=2)
