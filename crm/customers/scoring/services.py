"""Writes of the scoring area: schedule re-scoring after other areas' writes, run recomputations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from crm.core.audit import record_audit
from crm.customers.scoring import compute
from crm.customers.scoring.store.models import ScoringRun

# Customers per background task: keeps one task's transaction short.
RESCORE_BATCH = 5000


def schedule_rescore(customer_ids: Iterable[int]) -> None:
    """Re-score these customers in the background once the current transaction commits.

    Call it after any write that changes a customer's orders, refunds or needs. Safe to call
    inside or outside a transaction; nothing is enqueued if the transaction rolls back.
    """
    ids = sorted({int(c) for c in customer_ids if c is not None})
    if not ids:
        return

    def enqueue() -> None:
        from crm.customers.scoring.tasks import rescore_customers

        for start in range(0, len(ids), RESCORE_BATCH):
            rescore_customers.enqueue(ids[start : start + RESCORE_BATCH])

    transaction.on_commit(enqueue)


def rescore_customers(customer_ids: Iterable[int], *, as_of: datetime | None = None) -> int:
    """Rescore now (what the background task runs): incremental against the latest full run."""
    return compute.recompute_customers(list(customer_ids), as_of=as_of)


def recompute_all(
    *, actor: Any, as_of: datetime | None = None, refit: bool = True, progress: compute.Progress | None = None
) -> ScoringRun:
    """Full recomputation of every customer's score (refreshing cut points and model parameters)."""
    run = compute.recompute_full(as_of=as_of, refit=refit, progress=progress or compute._noop)
    record_audit(
        actor=actor,
        verb="recompute",
        obj=run,
        extra={"customers": run.customers, "orders": run.orders, "refit": refit, "timings": run.timings},
    )
    return run
