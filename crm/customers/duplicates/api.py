"""/api/v1/duplicates: the review queue, merge and dismiss; detection on demand."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status

from crm.core.access import has_verb
from crm.core.api import Page, paginate
from crm.core.errors import Forbidden
from crm.customers.duplicates import selectors, services
from crm.customers.models import Customer, DuplicateCandidate

router = Router(tags=["duplicates"])


class CustomerBrief(Schema):
    id: int
    name: str
    company_name: str
    city: str
    external_id: str | None


class CandidateOut(Schema):
    id: int
    customer_a: CustomerBrief
    customer_b: CustomerBrief
    reasons: list[str]
    reason_labels: list[str]
    score: float
    status: str
    created_at: dt.datetime
    reviewed_at: dt.datetime | None


class MergeIn(Schema):
    keep: Literal["a", "b"] = "a"
    take_from_loser: list[str] = []


class MergeOut(Schema):
    winner_id: int
    loser_id: int


class DetectOut(Schema):
    created: int


def _brief(customer: Customer) -> CustomerBrief:
    return CustomerBrief(
        id=customer.pk,
        name=customer.name,
        company_name=customer.company_name,
        city=customer.city,
        external_id=customer.external_id,
    )


def _out(candidate: DuplicateCandidate) -> CandidateOut:
    return CandidateOut(
        id=candidate.pk,
        customer_a=_brief(candidate.customer_a),
        customer_b=_brief(candidate.customer_b),
        reasons=list(candidate.reasons),
        reason_labels=services.describe_reasons(candidate.reasons),
        score=candidate.score,
        status=candidate.status,
        created_at=candidate.created_at,
        reviewed_at=candidate.reviewed_at,
    )


@router.get("", response=Page[CandidateOut], summary="Possible duplicates, most likely first")
def list_duplicates(
    request: HttpRequest,
    status: Literal["open", "merged", "dismissed", ""] = "open",
    cursor: str | None = None,
    limit: int = 50,
) -> Page[CandidateOut]:
    items, next_cursor = paginate(
        selectors.list_candidates(request.user, status=status), cursor=cursor, limit=limit, ordering=["-score", "-id"]
    )
    return Page[CandidateOut](items=[_out(c) for c in items], next_cursor=next_cursor)


@router.get("/{int:candidate_id}", response=CandidateOut, summary="One pair")
def get_duplicate(request: HttpRequest, candidate_id: int) -> CandidateOut:
    return _out(selectors.get_candidate(request.user, candidate_id))


@router.post(
    "/{int:candidate_id}/merge", response=MergeOut, summary="Merge the pair; the kept customer gets everything"
)
def merge_duplicate(request: HttpRequest, candidate_id: int, data: MergeIn) -> MergeOut:
    """`keep` names the customer that stays; `take_from_loser` lists fields whose value comes from the other one."""
    candidate = selectors.get_candidate(request.user, candidate_id)
    winner, loser = (
        (candidate.customer_a_id, candidate.customer_b_id)
        if data.keep == "a"
        else (candidate.customer_b_id, candidate.customer_a_id)
    )
    services.merge_customers(
        winner, loser, actor=request.user, take_from_loser=data.take_from_loser, candidate=candidate
    )
    return MergeOut(winner_id=winner, loser_id=loser)


@router.post(
    "/{int:candidate_id}/dismiss", response=CandidateOut, summary="Not a duplicate: never propose this pair again"
)
def dismiss_duplicate(request: HttpRequest, candidate_id: int) -> CandidateOut:
    candidate = services.dismiss_candidate(selectors.get_candidate(request.user, candidate_id), actor=request.user)
    return _out(selectors.get_candidate(request.user, candidate.pk))


@router.post("/detect", response={202: DetectOut}, summary="Queue duplicate detection over all customers")
def detect(request: HttpRequest) -> Status[DetectOut]:
    if not getattr(request.user, "is_superuser", False) and not has_verb(request.user, "change", Customer):
        raise Forbidden()
    from django.db import transaction

    from crm.customers.duplicates.tasks import detect_duplicates_task

    transaction.on_commit(lambda: detect_duplicates_task.enqueue())
    return Status(202, DetectOut(created=0))


ROUTERS = [("/duplicates", router)]
