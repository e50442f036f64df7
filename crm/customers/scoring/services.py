"""Scoring services (placeholder until the scoring module lands: only the re-scoring contract)."""

from __future__ import annotations

from collections.abc import Iterable


def schedule_rescore(customer_ids: Iterable[int]) -> None:
    """Queue re-scoring of these customers after commit (the scoring module replaces this)."""
    list(customer_ids)
