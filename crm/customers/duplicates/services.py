"""Duplicate customers: detection (exact via blind indexes, fuzzy on name + company), merge and dismiss."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.access import check_writable, get_for
from crm.core.audit import diff, record_audit, snapshot
from crm.core.crypto import blind_index
from crm.core.errors import Conflict, ValidationFailed
from crm.core.models import TimelineEvent
from crm.core.timeline import record_event
from crm.customers.choices import DuplicateStatus
from crm.customers.models import Customer, CustomerScore, DuplicateCandidate, SegmentMember
from crm.customers.scoring.services import schedule_rescore

BATCH = 2000
MAX_GROUP = 50  # members of one exact-match group paired with each other; bigger groups are data errors
NAME_SIMILARITY = 0.85
# At one company a one-character difference in a three-character Chinese name (王小明 / 王晓明, 0.67)
# is worth a look; two-character names differing in one (张伟 / 张强, 0.5) are not.
SAME_COMPANY_NAME_SIMILARITY = 0.65
COMPANY_SIMILARITY = 0.8

REASONS = {
    "same_email": gettext_lazy("same e-mail"),
    "same_phone": gettext_lazy("same phone"),
    "same_id_number": gettext_lazy("same ID number"),
    "similar_name_same_company": gettext_lazy("similar name, same company"),
    "same_name_similar_company": gettext_lazy("same name, similar company"),
    "similar_name_same_phone": gettext_lazy("similar name and same phone"),
}
EXACT_SCORES = {"same_id_number": 1.0, "same_email": 0.95, "same_phone": 0.9}

# Fields a reviewer may take from either side when merging.
MERGE_FIELDS = (
    "name",
    "kind",
    "gender",
    "birth_date",
    "company_name",
    "industry",
    "source",
    "region",
    "city",
    "country",
    "lifecycle_stage",
    "owner",
    "email",
    "phone",
    "address",
    "id_number",
    "external_id",
)
SENSITIVE = ("email", "phone", "address", "id_number")
BIDX = {"email": "email", "phone": "phone", "id_number": "identifier"}


def normalise_name(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in folded if ch.isalnum())


def similarity(a: str, b: str) -> float:
    a, b = normalise_name(a), normalise_name(b)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _exact_pairs(low: int | None, high: int | None) -> dict[tuple[int, int], set[str]]:
    """Pairs of active customers sharing a blind index, one side in [low, high] when given."""
    pairs: dict[tuple[int, int], set[str]] = {}
    table = Customer._meta.db_table
    for column, reason in (
        ("email_bidx", "same_email"),
        ("phone_bidx", "same_phone"),
        ("id_number_bidx", "same_id_number"),
    ):
        where = ""
        params: list[Any] = []
        if low is not None and high is not None:
            where = " AND b.id BETWEEN %s AND %s"
            params = [low, high]
        sql = (
            f'SELECT a.id, b.id FROM "{table}" a JOIN "{table}" b '  # noqa: S608 — names come from the model
            f'ON a."{column}" = b."{column}" AND a.id <> b.id '
            f"WHERE a.\"{column}\" <> '' AND a.is_active AND b.is_active{where}"
        )
        per_member: dict[int, int] = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for a, b in cursor.fetchall():
                per_member[b] = per_member.get(b, 0) + 1
                if per_member[b] > MAX_GROUP:
                    continue
                pairs.setdefault(_ordered(a, b), set()).add(reason)
    return pairs


def _fuzzy_pairs(chunk: list[dict[str, Any]]) -> dict[tuple[int, int], tuple[set[str], float]]:
    """Similar names at the same company, or the same name at a similar company."""
    found: dict[tuple[int, int], tuple[set[str], float]] = {}
    names = {c["name"] for c in chunk if c["name"]}
    companies = {c["company_name"] for c in chunk if c["company_name"]}
    phones = {c["phone_bidx"] for c in chunk if c["phone_bidx"]}
    others = list(
        Customer.objects.filter(is_active=True)
        .filter(Q(name__in=names) | Q(company_name__in=companies) | Q(phone_bidx__in=phones))
        .values("id", "name", "company_name", "phone_bidx")[: BATCH * 20]
    )
    others_rows: list[dict[str, Any]] = [dict(o) for o in others]
    by_company: dict[str, list[dict[str, Any]]] = {}
    by_name: dict[str, list[dict[str, Any]]] = {}
    by_phone: dict[str, list[dict[str, Any]]] = {}
    for other in others_rows:
        if other["company_name"]:
            by_company.setdefault(other["company_name"], []).append(other)
        by_name.setdefault(other["name"], []).append(other)
        if other["phone_bidx"]:
            by_phone.setdefault(other["phone_bidx"], []).append(other)
    for c in chunk:
        candidates: dict[int, dict[str, Any]] = {}
        for group in (
            by_company.get(c["company_name"], []),
            by_name.get(c["name"], []),
            by_phone.get(c["phone_bidx"], []),
        ):
            for other in group[:MAX_GROUP]:
                if other["id"] != c["id"]:
                    candidates[other["id"]] = other
        for other in candidates.values():
            name_score = similarity(c["name"], other["name"])
            reasons: set[str] = set()
            score = 0.0
            same_company = c["company_name"] and normalise_name(c["company_name"]) == normalise_name(
                other["company_name"]
            )
            if same_company and name_score >= SAME_COMPANY_NAME_SIMILARITY:
                reasons.add("similar_name_same_company")
                score = 0.6 + 0.3 * name_score
            elif name_score == 1.0 and c["company_name"] and other["company_name"]:
                company_score = similarity(c["company_name"], other["company_name"])
                if company_score >= COMPANY_SIMILARITY:
                    reasons.add("same_name_similar_company")
                    score = 0.6 + 0.3 * company_score
            if c["phone_bidx"] and c["phone_bidx"] == other["phone_bidx"] and name_score >= NAME_SIMILARITY:
                reasons.add("similar_name_same_phone")
                score = max(score, 0.8 + 0.15 * name_score)
            if reasons:
                found[_ordered(c["id"], other["id"])] = (reasons, round(score, 3))
    return found


def detect_duplicates(*, low: int | None = None, high: int | None = None) -> int:
    """Find candidate pairs (all customers, or those with ids in [low, high]); returns how many are new."""
    created = 0
    exact = _exact_pairs(low, high)
    rows = Customer.objects.filter(is_active=True).order_by("pk")
    if low is not None and high is not None:
        rows = rows.filter(pk__gte=low, pk__lte=high)
    scored: dict[tuple[int, int], tuple[set[str], float]] = {
        pair: (reasons, max(EXACT_SCORES[r] for r in reasons)) for pair, reasons in exact.items()
    }
    last = 0
    while True:
        chunk: list[dict[str, Any]] = [
            dict(r) for r in rows.filter(pk__gt=last).values("id", "name", "company_name", "phone_bidx")[:BATCH]
        ]
        if not chunk:
            break
        last = chunk[-1]["id"]
        for pair, (reasons, score) in _fuzzy_pairs(chunk).items():
            if pair in scored:
                old_reasons, old_score = scored[pair]
                scored[pair] = (old_reasons | reasons, max(old_score, score))
            else:
                scored[pair] = (reasons, score)
        created += _store(scored)
        scored = {}
    created += _store(scored)
    return created


def _store(scored: Mapping[tuple[int, int], tuple[set[str], float]]) -> int:
    if not scored:
        return 0
    existing = set(
        DuplicateCandidate.objects.filter(
            customer_a_id__in={a for a, _b in scored}, customer_b_id__in={b for _a, b in scored}
        ).values_list("customer_a_id", "customer_b_id")
    )
    new = [
        DuplicateCandidate(customer_a_id=a, customer_b_id=b, reasons=sorted(reasons), score=score)
        for (a, b), (reasons, score) in scored.items()
        if (a, b) not in existing
    ]
    DuplicateCandidate.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    return len(new)


def describe_reasons(reasons: Iterable[str]) -> list[str]:
    return [str(REASONS.get(r, r)) for r in reasons]


# --- review ----------------------------------------------------------------------------------


def dismiss_candidate(candidate: DuplicateCandidate, *, actor: Any) -> DuplicateCandidate:
    """Mark a pair as not a duplicate; it is never proposed again."""
    with transaction.atomic():
        locked = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
        if locked.status != DuplicateStatus.OPEN:
            raise Conflict(_("This pair was already reviewed."))
        locked.status = DuplicateStatus.DISMISSED
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        record_audit(
            actor=actor,
            verb="change",
            obj=locked,
            changes={"status": {"before": DuplicateStatus.OPEN, "after": DuplicateStatus.DISMISSED}},
        )
    return locked


def _repoint_relations(winner: Customer, loser: Customer) -> dict[str, int]:
    """Move every record pointing at the loser to the winner; returns counts per relation."""
    moved: dict[str, int] = {}
    skip = {DuplicateCandidate, Customer, CustomerScore, SegmentMember}
    relations = [
        f
        for f in Customer._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]
    for relation in relations:
        model = relation.related_model
        if not isinstance(model, type) or model in skip or model._meta.auto_created:
            continue
        if not model._meta.managed:
            continue  # derived by the database (the search terms): its triggers follow the customers
        field_name = relation.field.name  # type: ignore[union-attr]
        if relation.one_to_one and model._base_manager.filter(**{field_name: winner}).exists():
            continue
        count = model._base_manager.filter(**{field_name: loser}).update(**{field_name: winner})
        if count:
            moved[model._meta.label_lower] = count
    Customer.objects.filter(merged_into=loser).update(merged_into=winner)
    # Tags and static segments: memberships the winner lacks are added, the loser's removed.
    loser_tags = list(loser.tags.all())
    if loser_tags:
        winner.tags.add(*loser_tags)
        moved["customers.tag"] = len(loser_tags)
    in_winner = set(SegmentMember.objects.filter(customer=winner).values_list("segment_id", flat=True))
    members = SegmentMember.objects.filter(customer=loser)
    moved_segments = members.exclude(segment_id__in=in_winner).update(customer=winner)
    members.delete()
    if moved_segments:
        moved["customers.segmentmember"] = moved_segments
    CustomerScore.objects.filter(customer=loser).delete()
    # The timeline is append-only for content; only the customer it hangs on changes, so the
    # winner's timeline holds the loser's whole history.
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{TimelineEvent._meta.db_table}" SET customer_id = %s WHERE customer_id = %s',  # noqa: S608
            [winner.pk, loser.pk],
        )
        if cursor.rowcount:
            moved["core.timelineevent"] = cursor.rowcount
    return moved


def merge_customers(
    winner_id: int,
    loser_id: int,
    *,
    actor: Any,
    take_from_loser: Iterable[str] = (),
    candidate: DuplicateCandidate | None = None,
) -> Customer:
    """Merge `loser` into `winner`: every related record and the whole timeline move to the winner.

    `take_from_loser` lists the fields whose value the reviewer chose from the loser; empty winner
    fields are filled from the loser either way. The loser stays, inactive, with `merged_into` set.
    """
    if int(winner_id) == int(loser_id):
        raise ValidationFailed(
            _("A customer cannot be merged with itself."), errors={"loser": [_("Choose another customer.")]}
        )
    chosen = set(take_from_loser)
    unknown = chosen - set(MERGE_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("Unknown fields."),
            errors={"take_from_loser": [_("Unknown field %(key)s.") % {"key": k} for k in sorted(unknown)]},
        )
    with transaction.atomic():
        # Lock in id order so two merges touching the same pair cannot deadlock.
        for pk in sorted([int(winner_id), int(loser_id)]):
            get_for(actor, "change", Customer.objects.select_for_update(), pk)
        winner = Customer.objects.get(pk=winner_id)
        loser = Customer.objects.get(pk=loser_id)
        if not winner.is_active or not loser.is_active:
            raise Conflict(_("One of these customers was already merged."))
        before = snapshot(winner, MERGE_FIELDS)
        changed: list[str] = []
        for name in MERGE_FIELDS:
            field = Customer._meta.get_field(name)
            attname = field.attname if isinstance(field, models.ForeignKey) else name
            mine, theirs = getattr(winner, attname), getattr(loser, attname)
            if theirs in (None, "") or mine == theirs:
                continue
            if name in chosen or mine in (None, ""):
                setattr(winner, attname, theirs)
                changed.append(name)
        check_writable(actor, Customer, changed)
        if "external_id" in changed:
            Customer.objects.filter(pk=loser.pk).update(external_id=None)
        for name in changed:
            if name in BIDX:
                setattr(winner, f"{name}_bidx", blind_index(BIDX[name], getattr(winner, name)))
        winner.custom = {**(loser.custom or {}), **(winner.custom or {})}
        winner.email_opt_in = winner.email_opt_in or loser.email_opt_in
        winner.sms_opt_in = winner.sms_opt_in or loser.sms_opt_in
        winner.phone_opt_in = winner.phone_opt_in or loser.phone_opt_in
        winner.version += 1
        winner.updated_at = timezone.now()
        winner.save()
        moved = _repoint_relations(winner, loser)
        Customer.objects.filter(pk=loser.pk).update(
            merged_into=winner, is_active=False, version=models.F("version") + 1, updated_at=timezone.now()
        )
        pairs = DuplicateCandidate.objects.filter(
            Q(customer_a_id=min(winner.pk, loser.pk), customer_b_id=max(winner.pk, loser.pk))
            | Q(pk=candidate.pk if candidate else None)
        )
        pairs.update(status=DuplicateStatus.MERGED, reviewed_by=actor, reviewed_at=timezone.now())
        record_audit(
            actor=actor,
            verb="merge",
            obj=winner,
            changes=diff(before, snapshot(winner, MERGE_FIELDS), masked=SENSITIVE),
            extra={"merged_customer_id": loser.pk, "moved": moved},
        )
        record_event(
            customer_id=winner.pk,
            kind="customer.merged",
            actor=actor,
            subject="customer merged",
            payload={"key": "merged", "merged_customer_id": loser.pk, "moved": moved},
            obj=winner,
        )
        schedule_rescore([winner.pk])
    return winner
