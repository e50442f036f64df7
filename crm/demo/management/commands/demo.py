"""`crm demo`: deterministic, realistic demo data at any size (e.g. --customers 1000000)."""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils.module_loading import module_has_submodule

from crm.demo.registry import GENERATORS, DemoContext


def load_generators() -> None:
    for config in apps.get_app_configs():
        if config.name.startswith("crm.") and module_has_submodule(config.module, "demo_data"):
            import_module(f"{config.name}.demo_data")


class Command(BaseCommand):
    help = "Load demo data: users and teams, customers with Chinese and English names, orders, needs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=2000, help="number of customers (default 2000)")
        parser.add_argument("--seed", type=int, default=20261125, help="random seed: same seed, same data")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        load_generators()
        ctx = DemoContext(
            customers=options["customers"],
            seed=options["seed"],
            progress=not options["no_progress"],
            state={},
            stdout=self.stdout,
        )
        started = time.perf_counter()
        for _order, name, fn in GENERATORS:
            step = time.perf_counter()
            fn(ctx)
            self.stdout.write(f"  {name}: {time.perf_counter() - step:.1f}s")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {time.perf_counter() - started:.1f}s"))
