"""One-box customer search: any substring of name or company (Chinese 1–2 characters included), exact e-mail/phone.

PostgreSQL: the table `customers_customersearchterm` (migration 0007) holds every distinct lower-cased
2-character piece of a customer's name + company with the customer's `updated_at`, keyed
(piece, updated_at, customer_id). A search joins it on (customer, updated_at) for one piece of the
query, so the planner walks that key newest first — the list's own `-updated_at, -id` order — and
stops once a page is full, however common the name. A 2-character term is exactly one piece; otherwise
the rarest piece leads, the other pieces are looked up by key on each walked row, and `strpos` checks
that a longer term's pieces are adjacent. Single characters alone walk the customers by `updated_at`
(common surnames match densely, so the walk stops early).
SQLite: an FTS5 trigram table (migration 0002) for terms of 3+ characters, LIKE for shorter ones.
E-mail and phone are encrypted: they are found exactly through their blind index, never by substring.
Database triggers keep both structures in sync, so every write path — services, imports, merges, raw
COPY bulk loads — is covered; `rebuild_search_index` rebuilds them after rows were loaded with
triggers disabled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from crm.core.access import visible_to
from crm.core.crypto import blind_index
from crm.customers.models import Customer
from crm.identity.models import USER_LABEL_FIELDS

MAX_TERMS = 5
# Pieces whose counts are compared to pick the one a search walks (a long term has many).
MAX_CANDIDATE_PIECES = 8
# Counting stops here: past it a piece is "common", and any common piece leads about as well.
PIECE_COUNT_CAP = 2000
# Pieces besides the lead looked up on each walked row (all those of 2-character terms, which nothing
# else checks, then pieces of longer terms; strpos checks those terms whole anyway).
MAX_CHECKED_PIECES = 8
_PHONE_LIKE = re.compile(r"^[+\d][\d\s\-()]{4,}(?:\.0+)?$")
_TEXT_SQL = 'lower("customers_customer"."name" || \' \' || "customers_customer"."company_name")'
_TERM_TABLE = '"customers_customersearchterm"'
# What a result shows (search page, typeahead, search API): the rest, personal fields above all, is
# not read — decrypting e-mail, phone, address and ID number of each row cost more than the search.
RESULT_FIELDS = ("name", "company_name", "city", "lifecycle_stage", "kind", "updated_at", "owner")
RESULT_OWNER_FIELDS = tuple(f"owner__{name}" for name in USER_LABEL_FIELDS)
# Annotation on a search over the term table: the customer's updated_at, read from the walked term row.
SEARCH_UPDATED_AT = "search_updated_at"


def pieces_of(term: str) -> list[str]:
    """The distinct 2-character pieces of a term, in order (the database lower-cases them)."""
    return list(dict.fromkeys(term[i : i + 2] for i in range(len(term) - 1)))


def _rarest_piece(pieces: list[str]) -> str:
    """The piece with the fewest customers (counted up to a cap): the shortest walk to a full page."""
    if len(pieces) == 1:
        return pieces[0]
    candidates = pieces[:MAX_CANDIDATE_PIECES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.piece FROM unnest(%s::text[]) WITH ORDINALITY AS u(piece, position) "
            "ORDER BY (SELECT count(*) FROM (SELECT 1 FROM customers_customersearchterm AS t "
            "WHERE t.bigram = lower(u.piece) LIMIT %s) AS capped), u.position LIMIT 1",
            [candidates, PIECE_COUNT_CAP],
        )
        row = cursor.fetchone()
    return str(row[0]) if row else candidates[0]


def _postgresql_search(qs: QuerySet[Customer], terms: list[str]) -> QuerySet[Customer]:
    for term in terms:
        if len(term) != 2:
            # One character has no piece; for 3+ the pieces are all present but maybe not adjacent.
            # strpos rather than LIKE: no escaping, and the planner does not guess it to be rare.
            contains = RawSQL(f"strpos({_TEXT_SQL}, lower(%s)) > 0", [term], output_field=BooleanField())  # noqa: S611
            qs = qs.filter(contains)
    pieces = list(dict.fromkeys(piece for term in terms for piece in pieces_of(term)))
    if not pieces:
        return qs
    lead = _rarest_piece(pieces)
    # Ordered by the walked term row's updated_at (the trigger keeps it equal to the customer's), the
    # planner reads the term table's key newest first and stops once a page is full. updated_at is
    # tied to the customer's by a closed range, not `=`: an equality would join the two in the
    # planner's eyes too, which multiplies two join selectivities, expects about one row and makes it
    # fetch and sort every match; the range still lets a plan that starts from the customers (another
    # sort, a selective filter) look a term up by its whole key.
    qs = qs.filter(
        search_terms__bigram=Lower(Value(lead)),
        search_terms__updated_at__gte=F("updated_at"),
        search_terms__updated_at__lte=F("updated_at"),
    ).annotate(**{SEARCH_UPDATED_AT: F("search_terms__updated_at")})
    # A 2-character term is checked only here; a longer one also by strpos, so a few of its pieces do.
    required = [piece for term in terms if len(term) == 2 for piece in pieces_of(term) if piece != lead]
    optional = [piece for piece in pieces if piece != lead and piece not in required]
    others = required + optional[: max(0, MAX_CHECKED_PIECES - len(required))]
    if others:
        # Looked up by key on the walked term row, before the wide customer row is read. A scalar
        # subquery, not EXISTS: the planner cannot turn it into a hash join over every customer with a
        # common piece, and its default estimate keeps the ordered walk the cheaper plan. Pieces are
        # lower-cased and deduplicated by the database, as the trigger does ("Ab" and "aB" are one).
        has_others = RawSQL(  # noqa: S611 - constant SQL, every value a bound parameter
            "(SELECT count(*) FROM customers_customersearchterm AS other "  # noqa: S608
            "WHERE other.bigram = ANY(ARRAY(SELECT DISTINCT lower(p) FROM unnest(%s::text[]) AS p)) "
            f"AND other.updated_at = {_TERM_TABLE}.updated_at AND other.customer_id = {_TERM_TABLE}.customer_id)"
            " >= (SELECT count(DISTINCT lower(p)) FROM unnest(%s::text[]) AS p)",
            [others, others],
            output_field=BooleanField(),
        )
        qs = qs.filter(has_others)
    return qs


def _sqlite_term_q(term: str) -> Q:
    if len(term) >= 3:
        match = '"' + term.lower().replace('"', '""') + '"'
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
    terms = query.split(" ")[:MAX_TERMS]
    if connection.vendor == "postgresql":
        return _postgresql_search(qs, terms)
    condition = Q()
    for term in terms:
        condition &= _sqlite_term_q(term)
    return qs.filter(condition)


def search_ordering(qs: QuerySet[Customer], ordering: Sequence[str]) -> tuple[str, ...]:
    """`ordering` for a search queryset: by updated_at read from the term row when it has one (same values)."""
    if SEARCH_UPDATED_AT not in qs.query.annotations:
        return tuple(ordering)
    return tuple(f.replace("updated_at", SEARCH_UPDATED_AT) if f.lstrip("-") == "updated_at" else f for f in ordering)


def search_customers(user: Any, query: str, *, limit: int = 20) -> list[Customer]:
    """A page of matches, newest change first, with the fields a result shows (RESULT_FIELDS)."""
    qs = search_queryset(user, query).select_related("owner").only(*RESULT_FIELDS, *RESULT_OWNER_FIELDS)
    qs = qs.order_by(*search_ordering(qs, ("-updated_at", "-id")))
    return list(qs[: max(1, min(limit, 100))])


def rebuild_search_index() -> None:
    """Rebuild the search structure from the customers table (after a load with triggers disabled)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("INSERT INTO customers_customer_search(customers_customer_search) VALUES ('rebuild')")
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT crm_customer_search_rebuild()")
