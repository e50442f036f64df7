"""`/api/v1/customers/{id}/scores` and `/api/v1/scores/...`: stored scores with their written reasons."""

from __future__ import annotations

from typing import Any

from ninja import Router

from crm.customers.models import Customer, CustomerScore
from crm.customers.scoring import selectors
from crm.customers.scoring.schemas import AnalyticsOut, ContactTodayOut, ScoreOut
from crm.customers.scoring.store.models import ScoringRun
from crm.identity.http import AuthedRequest

customer_router = Router(tags=["scores"])
scores_router = Router(tags=["scores"])


def score_out(customer: Customer, score: CustomerScore | None) -> dict[str, Any]:
    if score is None:
        return {"customer_id": customer.pk, "scored": False}
    return {
        "customer_id": customer.pk,
        "scored": True,
        "first_order_at": score.first_order_at,
        "last_order_at": score.last_order_at,
        "recency_days": score.recency_days,
        "frequency": score.frequency,
        "monetary": str(score.monetary),
        "average_order_value": str(score.average_order_value),
        "r_score": score.r_score,
        "f_score": score.f_score,
        "m_score": score.m_score,
        "rfm_segment": score.rfm_segment,
        "rfm_segment_label": selectors.segment_label(score.rfm_segment) if score.rfm_segment else "",
        "p_alive": score.p_alive,
        "expected_purchases_12m": score.expected_purchases_12m,
        "expected_value_12m": None if score.expected_value_12m is None else str(score.expected_value_12m),
        "value_tier": score.value_tier,
        "open_needs": score.open_needs,
        "urgent_needs": score.urgent_needs,
        "open_tickets": score.open_tickets,
        "priority_score": score.priority_score,
        "reasons": selectors.reasons_list(score),
        "reasons_text": selectors.reasons_text(score),
        "computed_at": score.computed_at,
    }


def run_out(run: ScoringRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "as_of": run.as_of,
        "finished_at": run.finished_at,
        "customers": run.customers,
        "orders": run.orders,
        "recency_cuts": run.recency_cuts,
        "frequency_cuts": run.frequency_cuts,
        "monetary_cuts": run.monetary_cuts,
        "bgnbd": run.bgnbd,
        "gamma_gamma": run.gamma_gamma,
        "tier_a_min": run.tier_a_min,
        "tier_b_min": run.tier_b_min,
        "timings": run.timings,
    }


@customer_router.get("/{customer_id}/scores", response=ScoreOut, summary="A customer's scores with reasons")
def customer_scores(request: AuthedRequest, customer_id: int) -> dict[str, Any]:
    customer, score = selectors.get_customer_score(request.user, customer_id)
    return score_out(customer, score)


@scores_router.get("/contact-today", response=list[ContactTodayOut], summary="Who to contact today")
def contact_today(request: AuthedRequest, limit: int = 20) -> list[dict[str, Any]]:
    rows = selectors.contact_today(request.user, limit=max(1, min(limit, 100)))
    return [
        {
            "customer_id": s.customer_id,
            "name": s.customer.name,
            "priority_score": s.priority_score,
            "rfm_segment": s.rfm_segment,
            "value_tier": s.value_tier,
            "reasons_text": selectors.reasons_text(s),
        }
        for s in rows
    ]


@scores_router.get("/analytics", response=AnalyticsOut, summary="Customer analytics over the customers you may see")
def analytics(request: AuthedRequest, top: int = 10) -> dict[str, Any]:
    data = selectors.customer_analytics(request.user, top=max(1, min(top, 100)))
    return {
        "total": data.total,
        "segments": data.segments,
        "tiers": data.tiers,
        "rfm_grid": data.rfm_grid,
        "values": data.values,
        "top": [
            {
                "customer_id": s.customer_id,
                "name": s.customer.name,
                "value_tier": s.value_tier,
                "rfm_segment": s.rfm_segment,
                "monetary": str(s.monetary),
                "expected_value_12m": None if s.expected_value_12m is None else str(s.expected_value_12m),
                "p_alive": s.p_alive,
            }
            for s in data.top
        ],
        "run": run_out(data.run) if data.run else None,
    }


ROUTERS = [("/customers", customer_router), ("/scores", scores_router)]
