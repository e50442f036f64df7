"""`crm demo`: deterministic, realistic demo data at any size (e.g. --customers 1000000)."""

from __future__ import annotations

import json
import time
from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import module_has_submodule

from crm.demo.registry import GENERATORS, DemoContext


def load_generators() -> None:
    for config in apps.get_app_configs():
        if not config.name.startswith("crm."):
            continue
        for module in getattr(config, "demo_modules", None) or ["demo_data"]:
            if module_has_submodule(config.module, module):
                import_module(f"{config.name}.{module}")


class Command(BaseCommand):
    help = "Load demo data: users and teams, customers with Chinese and English names, orders, needs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=2000, help="number of customers (default 2000)")
        parser.add_argument("--seed", type=int, default=20261125, help="random seed: same seed, same data")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--only", action="append", help="run only this generator (repeatable; see --list)")
        parser.add_argument("--list", action="store_true", help="list the generators and exit")
        parser.add_argument("--json", action="store_true", help="print a JSON summary line at the end")

    def handle(self, *args: Any, **options: Any) -> None:
        load_generators()
        if options["list"]:
            for order, name, _fn in GENERATORS:
                self.stdout.write(f"{order:4d}  {name}")
            return
        if options["customers"] < 0:
            raise CommandError("--customers must be 0 or more")
        selected = [g for g in GENERATORS if not options["only"] or g[1] in options["only"]]
        unknown = set(options["only"] or []) - {g[1] for g in GENERATORS}
        if unknown:
            raise CommandError(f"Unknown generator(s): {', '.join(sorted(unknown))}")
        ctx = DemoContext(
            customers=options["customers"],
            seed=options["seed"],
            progress=not options["no_progress"],
            state={},
            stdout=self.stdout,
        )
        started = time.perf_counter()
        for _order, name, fn in selected:
            step = time.perf_counter()
            fn(ctx)
            self.stdout.write(f"  {name}: {time.perf_counter() - step:.1f}s")
        seconds = time.perf_counter() - started
        rows = sum(ctx.rows.values())
        reported = f" ({rows} rows reported by the generators)" if rows else ""
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {seconds:.1f}s{reported}"))
        if options["json"]:
            self.stdout.write(json.dumps({"seconds": round(seconds, 3), "rows": ctx.rows}, ensure_ascii=False))
