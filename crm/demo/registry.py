"""Demo generators register here in the order they run; each app adds its own data.

An app writes `crm/<app>/demo_data.py`:

    @generator(30, "customers")
    def customers(ctx: DemoContext) -> None:
        rng = ctx.rng("customers")            # deterministic per generator, whatever runs before
        with ctx.bar(ctx.customers, "customers") as bar:
            for batch in batches(...):
                insert(batch)                 # bulk inserts: 1,000,000 customers must be practical
                bar.update(len(batch))
        ctx.state["customer_ids"] = (first_id, last_id)   # for generators that run later

Same `--seed` and size → the same data, so demos, screenshots and benchmarks are repeatable.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm


@dataclass
class DemoContext:
    customers: int
    seed: int
    progress: bool
    state: dict[str, Any]
    stdout: Any
    rows: dict[str, int] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        """A random generator seeded from the run's seed and `name`, independent of other generators."""
        return random.Random(self.seed * 1_000_003 + zlib.crc32(name.encode()))

    def bar(self, total: int, desc: str, unit: str = "rows") -> tqdm:
        """A progress bar (on stderr; silent with --no-progress). Use as a context manager."""
        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=not self.progress, leave=False)

    def add_rows(self, what: str, count: int) -> None:
        """Report rows written, for the summary line and `make bench`'s rows/s figure."""
        self.rows[what] = self.rows.get(what, 0) + count


Generator = Callable[[DemoContext], None]
GENERATORS: list[tuple[int, str, Generator]] = []


def generator(order: int, name: str) -> Callable[[Generator], Generator]:
    """Register a demo generator; lower `order` runs first (users 10, customers 30, orders 40...)."""

    def decorate(fn: Generator) -> Generator:
        GENERATORS[:] = [item for item in GENERATORS if item[1] != name]
        GENERATORS.append((order, name, fn))
        GENERATORS.sort(key=lambda item: item[0])
        return fn

    return decorate
