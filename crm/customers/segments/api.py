"""`/api/v1/segments`: saved filters and static lists, their live counts and members (cursor pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Status

from crm.core.api import paginate, version_from
from crm.customers.models import Customer, Segment
from crm.customers.segments import selectors, services

router = Router(tags=["segments"])


class SegmentIn(Schema):
    name: str | None = None
    kind: str | None = None
    description: str | None = None
    definition: dict[str, Any] | None = None
    version: int | None = None


class SegmentOut(Schema):
    id: int
    name: str
    kind: str
    description: str
    definition: dict[str, Any]
    owner_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    count: int | None = None


class PreviewIn(Schema):
    definition: dict[str, Any] | None = None


class MembersIn(Schema):
    customer_ids: list[int]


def segment_out(segment: Segment, *, count: int | None = None) -> dict[str, Any]:
    return {
        "id": segment.pk,
        "name": segment.name,
        "kind": segment.kind,
        "description": segment.description,
        "definition": segment.definition,
        "owner_id": segment.owner_id,
        "version": segment.version,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
        "count": count,
    }


def member_out(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "name": customer.name,
        "kind": customer.kind,
        "company_name": customer.company_name,
        "region": customer.region,
        "city": customer.city,
        "lifecycle_stage": customer.lifecycle_stage,
        "owner_id": customer.owner_id,
    }


def _data(payload: Schema) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    return data


@router.get("", summary="Segments you may see")
def list_segments(
    request: HttpRequest, q: str = "", kind: str = "", cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    rows, next_cursor = paginate(
        selectors.segments_for(request.user, query=q, kind=kind), cursor=cursor, limit=limit, ordering=("-id",)
    )
    return {"items": [segment_out(s) for s in rows], "next_cursor": next_cursor}


@router.post("", summary="Create a segment (saved filter or static list)", response={201: SegmentOut})
def create_segment(request: HttpRequest, payload: SegmentIn) -> Status[dict[str, Any]]:
    segment = services.create_segment(actor=request.user, data=_data(payload))
    return Status(201, segment_out(segment, count=selectors.members_of(request.user, segment).count()))


@router.post("/preview", summary="Live count and examples for a filter being edited")
def preview(request: HttpRequest, payload: PreviewIn) -> dict[str, Any]:
    count, sample = selectors.preview(request.user, payload.definition)
    return {"count": count, "sample": [member_out(c) for c in sample]}


@router.get("/fields", summary="Fields and operators a segment filter may use")
def fields(request: HttpRequest) -> list[dict[str, Any]]:
    return selectors.builder_fields()


@router.get("/{int:segment_id}", response=SegmentOut, summary="One segment with its live count")
def get_segment(request: HttpRequest, segment_id: int) -> dict[str, Any]:
    segment = selectors.get_segment_for(request.user, segment_id)
    return segment_out(segment, count=selectors.members_of(request.user, segment).count())


@router.patch("/{int:segment_id}", response=SegmentOut, summary="Change a segment (send its version)")
def update_segment(request: HttpRequest, segment_id: int, payload: SegmentIn) -> dict[str, Any]:
    segment = selectors.get_segment_for(request.user, segment_id, verb="change")
    expected = version_from(payload.version, request.headers.get("If-Match"))
    segment = services.update_segment(segment, actor=request.user, data=_data(payload), expected_version=expected)
    return segment_out(segment, count=selectors.members_of(request.user, segment).count())


@router.delete("/{int:segment_id}", response={204: None}, summary="Delete a segment")
def delete_segment(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = selectors.get_segment_for(request.user, segment_id, verb="delete")
    services.delete_segment(
        segment, actor=request.user, expected_version=version_from(None, request.headers.get("If-Match"))
    )
    return HttpResponse(status=204)


@router.get("/{int:segment_id}/customers", summary="The segment's customers you may see (cursor pages + count)")
def segment_customers(
    request: HttpRequest, segment_id: int, cursor: str | None = None, limit: int = 50, with_count: bool = True
) -> dict[str, Any]:
    segment = selectors.get_segment_for(request.user, segment_id)
    members = selectors.members_of(request.user, segment)
    rows, next_cursor = paginate(members, cursor=cursor, limit=limit, ordering=("id",))
    return {
        "items": [member_out(c) for c in rows],
        "next_cursor": next_cursor,
        "count": members.count() if with_count else None,
    }


@router.post("/{int:segment_id}/members", summary="Add customers to a static list")
def add_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> dict[str, Any]:
    segment = selectors.get_segment_for(request.user, segment_id, verb="change")
    added = services.add_members(segment, payload.customer_ids, actor=request.user)
    return {"added": added, "count": selectors.members_of(request.user, segment).count()}


@router.post("/{int:segment_id}/members/remove", summary="Remove customers from a static list")
def remove_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> dict[str, Any]:
    segment = selectors.get_segment_for(request.user, segment_id, verb="change")
    removed = services.remove_members(segment, payload.customer_ids, actor=request.user)
    return {"removed": removed, "count": selectors.members_of(request.user, segment).count()}


ROUTERS = [("/segments", router)]
