"""`crm keys generate | status | rotate`: make encryption keys and move data to the primary key."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.core import crypto
from crm.core.audit import record_audit


class Command(BaseCommand):
    help = "Generate encryption keys, show which key encrypts how many values, rotate to the primary key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("generate", help="Print a new encryption key and blind-index key as env lines.")
        sub.add_parser("status", help="Count stored values per key id for every encrypted column.")
        rotate = sub.add_parser(
            "rotate",
            help="Re-encrypt every value not under the primary key (the first of CRM_ENCRYPTION_KEYS). "
            "Resumable, in batches, safe while the application serves.",
        )
        rotate.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "generate":
            self._generate()
        elif action == "status":
            self._status()
        else:
            self._rotate(options["batch_size"])

    def _generate(self) -> None:
        key_id = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.stdout.write(f"CRM_ENCRYPTION_KEYS={key_id}:{crypto.generate_key()}")
        self.stdout.write(f"CRM_BLIND_INDEX_KEY={crypto.generate_key()}")
        self.stderr.write(
            "To rotate, put the new id:key FIRST in CRM_ENCRYPTION_KEYS and keep the old ones after it "
            "(comma-separated), restart the app, run `crm keys rotate`, then drop the old keys. "
            "Keep CRM_BLIND_INDEX_KEY unchanged on an existing installation."
        )

    def _status(self) -> None:
        ring = crypto.keyring()
        self.stdout.write(f"primary key: {ring.primary_id}; configured: {', '.join(ring.keys)}")
        for model, fields in crypto.encrypted_fields():
            for field in fields:
                counts = crypto.count_by_key(model, field)
                summary = ", ".join(f"{kid}={n}" for kid, n in sorted(counts.items())) or "empty"
                self.stdout.write(f"{model._meta.db_table}.{field.column}: {summary}")

    def _rotate(self, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        ring = crypto.keyring()
        started = time.monotonic()
        total = 0
        for step in crypto.rotate_all(batch_size=batch_size):
            total += step.rewritten
            self.stdout.write(
                f"{step.table}.{step.column}: {step.rewritten} re-encrypted (up to id {step.last_pk}); "
                f"{total} so far, {time.monotonic() - started:.1f}s"
            )
        leftover = {
            kid
            for model, fields in crypto.encrypted_fields()
            for field in fields
            for kid in crypto.count_by_key(model, field)
            if kid != ring.primary_id
        }
        record_audit(
            actor=None,
            verb="keys.rotate",
            object_type="core.encryptionkey",
            object_id=ring.primary_id,
            extra={"re_encrypted": total, "remaining_old_keys": sorted(leftover)},
        )
        if leftover:
            raise CommandError(f"values under {', '.join(sorted(leftover))} remain (written meanwhile?); run again")
        old = [kid for kid in ring.keys if kid != ring.primary_id]
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {total} values re-encrypted under {ring.primary_id}"
                + (f"; keys {', '.join(old)} may now be removed" if old else "")
            )
        )
