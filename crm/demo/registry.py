"""Demo generators register here in the order they run; each app adds its own data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class DemoContext:
    customers: int
    seed: int
    progress: bool
    state: dict[str, Any]
    stdout: Any


Generator = Callable[[DemoContext], None]
GENERATORS: list[tuple[int, str, Generator]] = []


def generator(order: int, name: str) -> Callable[[Generator], Generator]:
    def decorate(fn: Generator) -> Generator:
        GENERATORS.append((order, name, fn))
        GENERATORS.sort(key=lambda item: item[0])
        return fn

    return decorate
