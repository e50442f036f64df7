"""`crm scores recompute [--full | --customers 1,2,3]`: recompute stored customer scores with progress."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.customers.scoring import services


class Command(BaseCommand):
    help = "Recompute customer scores (RFM, predicted value, tier, priority)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        recompute = sub.add_parser("recompute", help="recompute scores")
        group = recompute.add_mutually_exclusive_group()
        group.add_argument("--full", action="store_true", help="every customer; refreshes cut points and models")
        group.add_argument("--customers", default="", help="comma-separated customer ids (incremental)")
        recompute.add_argument(
            "--keep-state", action="store_true", help="with --full: score against the stored cut points and models"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["customers"]:
            try:
                ids = [int(part) for part in options["customers"].split(",") if part.strip()]
            except ValueError as exc:
                raise CommandError("--customers takes comma-separated customer ids, e.g. 12,15,40") from exc
            written = services.rescore_customers(ids)
            self.stdout.write(f"rescored {written} customers in {time.perf_counter() - started:.2f}s")
            return

        def progress(step: str, done: int, total: int) -> None:
            self.stdout.write(f"[{done}/{total}] {step} ({time.perf_counter() - started:.1f}s)")
            self.stdout.flush()

        run = services.recompute_all(actor=None, refit=not options["keep_state"], progress=progress)
        self.stdout.write(
            f"scored {run.customers} customers from {run.orders} orders in {time.perf_counter() - started:.2f}s"
        )
        if run.bgnbd:
            b = run.bgnbd
            self.stdout.write(f"BG/NBD r={b['r']:.3f} alpha={b['alpha']:.3f} a={b['a']:.3f} b={b['b']:.3f}")
        if run.gamma_gamma:
            g = run.gamma_gamma
            self.stdout.write(f"Gamma-Gamma p={g['p']:.3f} q={g['q']:.3f} gamma={g['gamma']:.3f}")
