"""Background tasks of the scoring area (queue "scores"): thin wrappers over services."""

from __future__ import annotations

from django.tasks import task

from crm.customers.scoring import services


@task(queue_name="scores")
def rescore_customers(customer_ids: list[int]) -> int:
    return services.rescore_customers(customer_ids)


@task(queue_name="scores")
def recompute_all_scores() -> int:
    """Periodic full recomputation (refreshes cut points and model parameters)."""
    return services.recompute_all(actor=None).customers
