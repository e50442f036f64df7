"""Hand the customers whose orders changed to the scoring area, which owns re-scoring."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module


def schedule_rescore(customer_ids: Iterable[int]) -> None:
    try:
        scoring = import_module("crm.customers.scoring.services")
    except ImportError:  # the scoring area has not landed on this branch yet
        return
    scoring.schedule_rescore(customer_ids)
