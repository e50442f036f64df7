"""One-box customer search: any substring of name or company (Chinese 1–2 characters included), exact e-mail/phone.

SQLite: FTS5 trigram table (migration 0002) for terms of 3+ characters, LIKE for shorter ones.
PostgreSQL: pg_trgm GIN index for 3+ characters, a GIN index over character bigrams for 2 characters,
LIKE for single characters (common surnames match densely, so an index walk on updated_at stops early).
E-mail and phone are encrypted: they are found exactly through their blind index, never by substring.
The database keeps the search structures in sync itself (triggers / expression indexes), so every
write path — services, imports, merges, raw bulk loads — is covered; `rebuild_search_index` is for
restoring an SQLite FTS table after loading rows with triggers disabled.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from crm.core.access import visible_to
from crm.core.crypto import blind_index
from crm.customers.models import Customer

MAX_TERMS = 5
_PHONE_LIKE = re.compile(r"^[+\d][\d\s\-()]{4,}$")
_TEXT_SQL = 'lower("customers_customer"."name" || \' \' || "customers_customer"."company_name")'


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _term_q(term: str) -> Q:
    term = term.lower()
    if connection.vendor == "postgresql":
        # The SQL is a constant; the term is always a bound parameter.
        like = RawSQL(f"{_TEXT_SQL} LIKE %s", [_like_pattern(term)], output_field=BooleanField())  # noqa: S611
        if len(term) >= 2:
            # Every 2-character piece of the term must be present: the bigram GIN index answers that
            # for any length; LIKE then checks they are adjacent (pg_trgm also serves 3+ characters).
            bigrams = sorted({term[i : i + 2] for i in range(len(term) - 1)})
            bigram = RawSQL(
                'crm_bigrams("customers_customer"."name" || \' \' || "customers_customer"."company_name") '
                "@> %s::text[]",
                [bigrams],
                output_field=BooleanField(),
            )
            return Q(bigram) & Q(like)
        return Q(like)
    if connection.vendor == "sqlite" and len(term) >= 3:
        match = '"' + term.replace('"', '""') + '"'
        return Q(
            pk__in=RawSQL(
                "SELECT rowid FROM customers_customer_search WHERE customers_customer_search MATCH %s", [match]
            )
        )
    return Q(name__icontains=term) | Q(company_name__icontains=term)


def _exact_channel_q(query: str) -> Q | None:
    if "@" in query:
        return Q(email_bidx=blind_index("email", query))
    if _PHONE_LIKE.match(query):
        try:
            return Q(phone_bidx=blind_index("phone", query))
        except ValueError:
            return None
    return None


def search_queryset(user: Any, query: str) -> QuerySet[Customer]:
    """Customers the user may see that match every term of `query` (or its exact e-mail/phone)."""
    query = " ".join(str(query or "").split())[:200]
    qs = visible_to(user, "view", Customer)
    if not query:
        return qs.none()
    exact = _exact_channel_q(query)
    if exact is not None:
        return qs.filter(exact)
    condition = Q()
    for term in query.split(" ")[:MAX_TERMS]:
        condition &= _term_q(term)
    return qs.filter(condition)


def search_customers(user: Any, query: str, *, limit: int = 20) -> list[Customer]:
    qs = search_queryset(user, query).select_related("owner").order_by("-updated_at", "-id")
    return list(qs[: max(1, min(limit, 100))])


def rebuild_search_index() -> None:
    """Rebuild the SQLite FTS table from the customers table (PostgreSQL indexes need nothing)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO customers_customer_search(customers_customer_search) VALUES ('rebuild')")
