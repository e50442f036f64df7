# SQL here is built only from model table names, catalog names and enum constants; values go as parameters.
# ruff: noqa: S608
"""The recomputation pipeline: SQL aggregates → vectorised scoring → one bulk write.

Full run: aggregate every customer's paid orders (net of refunds) in one parallel GROUP BY, read
back as five arrays, compute quintile cut points (NTILE semantics), fit BG/NBD and Gamma-Gamma on
(a sample of) the aggregates, derive tiers and priorities with numpy, and replace the contents of
`CustomerScore`. On PostgreSQL a big run builds a complete new table beside the live one (binary
COPY, then indexes) and swaps it in at the end, so readers keep the old rows until the commit and
wait only for the swap itself.
Incremental run: the same for a list of customers, scored against the latest run's stored
cut points and parameters and upserted, so it costs little and agrees with a full run on the same state.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from django.db import OperationalError, connection, transaction
from django.db.utils import IntegrityError
from django.utils import timezone
from numpy.typing import NDArray
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from crm.customers.choices import NeedLevel, NeedStatus, OrderStatus
from crm.customers.models import Customer, CustomerScore, Need, Order
from crm.customers.scoring import priority, rfm, rows, value_models
from crm.customers.scoring.store.models import ScoringRun

logger = logging.getLogger(__name__)

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Progress = Callable[[str, int, int], None]

DAY = 86400.0
HORIZON_WEEKS = 52.0  # "next 12 months"
FIT_SAMPLE = 100_000  # customers used to fit the models in a full run (random, fixed seed)
MIN_FIT_CUSTOMERS = 50  # fewer customers with orders: keep the previous parameters
TIER_A_SHARE = 0.20
TIER_B_SHARE = 0.30
COUNTED_STATUSES = (OrderStatus.PAID.value, OrderStatus.PARTIALLY_REFUNDED.value)
OPEN_NEED_STATUSES = (NeedStatus.OPEN.value, NeedStatus.IN_PROGRESS.value)
ID_CHUNK = 5000
# Rows scored and encoded per step of a full run: PostgreSQL parses one chunk while numpy scores the next.
SCORE_CHUNK = 100_000
# Full runs with at least this many rows (PostgreSQL) build a new table and swap it in.
SWAP_ROWS = 100_000
# Waiting for a table lock: give up after LOCK_TIMEOUT_MS (so queued readers are not held up behind
# us), back off and retry; after LOCK_ATTEMPTS wait as long as it takes.
LOCK_TIMEOUT_MS = 250
LOCK_ATTEMPTS = 40
# Shared by incremental runs, exclusive for a full run: an incremental update never writes into a
# table that a running full run is about to replace (its rows would be lost with the old table).
ADVISORY_LOCK = 0x5C0E5

SEGMENT_CATEGORIES = ("", *rfm.SEGMENT_CODES)
TIER_CATEGORIES = ("", "A", "B", "C")
SCORE_COLUMNS = (
    "customer_id",
    "first_order_at",
    "last_order_at",
    "recency_days",
    "frequency",
    "monetary",
    "average_order_value",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "p_alive",
    "expected_purchases_12m",
    "expected_value_12m",
    "value_tier",
    "open_needs",
    "urgent_needs",
    "open_tickets",
    "priority_score",
    "priority_reasons",
    "computed_at",
)


@dataclass
class Aggregates:
    """Per-customer order aggregates, aligned arrays sorted by customer id.

    Orders (RFM): `orders`, `first_epoch`, `last_epoch` (exact times), `monetary` (net spend).
    Purchase days (BG/NBD, Gamma-Gamma): a customer's orders on one calendar day in TIME_ZONE are
    one transaction; `days` of them, the first and last as day numbers (days since 1970-01-01),
    and `repeat_spend`, the net spend of all days but the first.
    """

    customer_id: Ints
    orders: Floats
    first_epoch: Floats
    last_epoch: Floats
    monetary: Floats
    days: Floats
    first_day: Floats
    last_day: Floats
    repeat_spend: Floats

    @classmethod
    def empty(cls) -> Aggregates:
        return cls(np.zeros(0, dtype=np.int64), *(np.zeros(0) for _ in range(8)))

    def take(self, part: slice | Ints) -> Aggregates:
        return Aggregates(*(getattr(self, f.name)[part] for f in fields(self)))


@dataclass
class State:
    """What a run scores against: cut points, model parameters, tier thresholds."""

    as_of: datetime
    recency_cuts: list[float] = field(default_factory=list)
    frequency_cuts: list[float] = field(default_factory=list)
    monetary_cuts: list[float] = field(default_factory=list)
    bgnbd: value_models.BgNbdParams | None = None
    gamma_gamma: value_models.GammaGammaParams | None = None
    tier_a_min: float = 0.0
    tier_b_min: float = 0.0
    value_scale: float = 1.0

    @classmethod
    def from_run(cls, run: ScoringRun, as_of: datetime) -> State:
        return cls(
            as_of=as_of,
            recency_cuts=list(run.recency_cuts),
            frequency_cuts=list(run.frequency_cuts),
            monetary_cuts=list(run.monetary_cuts),
            bgnbd=value_models.BgNbdParams.from_dict(run.bgnbd),
            gamma_gamma=value_models.GammaGammaParams.from_dict(run.gamma_gamma),
            tier_a_min=run.tier_a_min,
            tier_b_min=run.tier_b_min,
            value_scale=run.value_scale,
        )


# --- SQL ----------------------------------------------------------------------------------------


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _epoch(expr: str) -> str:
    if _is_postgres():
        return f"EXTRACT(EPOCH FROM {expr})::float8"
    return f"((julianday({expr}) - 2440587.5) * 86400.0)"


def _net_spend() -> str:
    # Summed in cents as float8: exact (integers below 2^53), and the hash aggregate's by-value
    # float8 state is far smaller and faster than numeric's; numeric→int8 avoids numeric→float8,
    # which goes through text.
    if _is_postgres():
        return "SUM(((o.total_amount - o.refunded_amount) * 100)::int8::float8) / 100"
    return "SUM(CAST(ROUND((o.total_amount - o.refunded_amount) * 100) AS INTEGER)) / 100.0"


def _counted() -> str:
    statuses = ", ".join(f"'{s}'" for s in COUNTED_STATUSES)
    return f"o.status IN ({statuses})"


def _aggregate_select(where_ids: str) -> str:
    """RFM aggregates in plain SQL (orders, first and last order time, net spend), for `quintile_cuts`."""
    first, last = _epoch("MIN(o.ordered_at)"), _epoch("MAX(o.ordered_at)")
    return (
        f"SELECT o.customer_id, COUNT(*) AS orders, {first} AS first_epoch, {last} AS last_epoch, "
        f"{_net_spend()} AS monetary FROM {Order._meta.db_table} o "
        f"WHERE {_counted()} AND o.ordered_at <= %s {where_ids} GROUP BY o.customer_id"
    )


def _inactive_customers() -> str:
    return f"SELECT id FROM {Customer._meta.db_table} WHERE NOT is_active"


def _ids_clause(ids: Sequence[int]) -> tuple[str, list[Any]]:
    if _is_postgres():
        return "AND o.customer_id = ANY(%s)", [list(ids)]
    return f"AND o.customer_id IN ({', '.join(['%s'] * len(ids))})", list(ids)


# --- orders → per-customer aggregates ------------------------------------------------------------


@dataclass
class OrderRows:
    """Counted orders as aligned arrays: customer, calendar day in TIME_ZONE (days since
    1970-01-01), exact time (Unix seconds) and net spend in cents (exact integers)."""

    customer_id: Ints
    day: Ints
    epoch: Floats
    cents: Ints

    @classmethod
    def empty(cls) -> OrderRows:
        ints = np.zeros(0, dtype=np.int64)
        return cls(customer_id=ints, day=ints, epoch=np.zeros(0), cents=ints)


# Bytes per order in the PostgreSQL transfer (customer id, time, net cents: three big-endian int8).
ORDER_RECORD = np.dtype([("customer_id", ">i8"), ("micros", ">i8"), ("cents", ">i8")])
# One bytea value is at most 1 GB: above this many bytes, split the transfer into customer buckets.
TRANSFER_BYTES = 256 * 2**20


def _pg_order_rows(as_of: datetime, ids: Sequence[int] | None) -> OrderRows:
    """PostgreSQL: the counted orders (all, or of `ids`) as 24-byte records concatenated into one
    bytea (`string_agg`), sent in a single binary COPY row and read with `numpy.frombuffer`.

    The workers scan, filter and encode the rows (`int8send` …) in parallel; the leader only appends
    bytes. (Four `array_agg` arrays took twice as long: `array_send` encodes every element in the
    leader.) A table too big for one bytea is sent as several rows, one per bucket of customers."""
    buckets = 1
    where: sql.Composable = sql.SQL("")
    if ids is not None:
        where = sql.SQL("AND o.customer_id = ANY({})").format(sql.Literal(list(ids)))
    with connection.cursor() as cursor:
        if ids is None:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Order._meta.db_table])
            estimate = max(float(cursor.fetchone()[0]), 0.0)
            buckets = 1 + int(estimate * ORDER_RECORD.itemsize // TRANSFER_BYTES)
            # Every row passes through the leader: price the Gather low enough that the workers do the
            # scanning and encoding. JIT would compile for ~0.4 s and save less.
            cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")
            cursor.execute("SET LOCAL jit = off")
        query = sql.SQL(
            "COPY (SELECT string_agg(record, ''::bytea) FROM ("
            "SELECT o.customer_id % {buckets} AS bucket, int8send(o.customer_id) || timestamptz_send(o.ordered_at) "
            "|| int8send(((o.total_amount - o.refunded_amount) * 100)::int8) AS record "
            f"FROM {Order._meta.db_table} o WHERE {_counted()} AND o.ordered_at <= {{as_of}} {{where}} "
            # OFFSET 0 keeps the encoding inside the subquery, i.e. in the workers.
            "OFFSET 0) AS counted GROUP BY bucket) TO STDOUT WITH (FORMAT binary)"
        ).format(buckets=sql.Literal(buckets), as_of=sql.Literal(as_of), where=where)
        payload = bytearray()
        with cursor.cursor.copy(query) as copy:
            for block in copy:
                payload += block
        if ids is None:
            cursor.execute("SET LOCAL parallel_tuple_cost TO DEFAULT")
    records = [np.frombuffer(value, dtype=ORDER_RECORD) for value in _binary_single_values(payload)]
    if not records:
        return OrderRows.empty()
    record = records[0] if len(records) == 1 else np.concatenate(records)
    micros = record["micros"].astype(np.int64) + rows.PG_EPOCH_MICROS
    return OrderRows(
        customer_id=record["customer_id"].astype(np.int64),
        day=local_days(micros // 1_000_000),
        # Exact integer microseconds / 1e6, correctly rounded: the same float as EXTRACT(EPOCH …)::float8.
        epoch=micros / 1e6,
        cents=record["cents"].astype(np.int64),
    )


def _binary_single_values(payload: bytes | bytearray) -> list[memoryview]:
    """The non-NULL values of a binary COPY whose rows have one column each."""
    view = memoryview(payload)
    offset = len(rows.BINARY_HEADER)
    values: list[memoryview] = []
    while offset + 2 <= len(view):
        fields_ = int.from_bytes(view[offset : offset + 2], "big", signed=True)
        offset += 2
        if fields_ == -1:  # trailer
            break
        if fields_ != 1:
            raise ValueError(f"expected one column, got {fields_}")
        length = int.from_bytes(view[offset : offset + 4], "big", signed=True)
        offset += 4
        if length >= 0:
            values.append(view[offset : offset + length])
            offset += length
    return values


def _sqlite_order_rows(as_of: datetime, ids: Sequence[int] | None) -> OrderRows:
    """SQLite: the counted orders (all, or of `ids`); the calendar day is worked out in numpy."""
    query = (
        f"SELECT o.customer_id, CAST(strftime('%%s', o.ordered_at) AS INTEGER), {_epoch('o.ordered_at')}, "
        f"CAST(ROUND((o.total_amount - o.refunded_amount) * 100) AS INTEGER) FROM {Order._meta.db_table} o "
        f"WHERE {_counted()} AND o.ordered_at <= %s {{ids}}"
    )
    rows_: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if ids is None:
            cursor.execute(query.format(ids=""), [as_of])
            rows_ = cursor.fetchall()
        else:
            for start in range(0, len(ids), ID_CHUNK):
                clause, params = _ids_clause(ids[start : start + ID_CHUNK])
                cursor.execute(query.format(ids=clause), [as_of, *params])
                rows_.extend(cursor.fetchall())
    if not rows_:
        return OrderRows.empty()
    customer, seconds, epoch, cents = (np.asarray(column) for column in zip(*rows_, strict=True))
    return OrderRows(
        customer_id=customer.astype(np.int64),
        day=local_days(seconds.astype(np.int64)),
        # julianday() carries ~50 µs of floating-point noise at today's dates: keep milliseconds.
        epoch=np.round(epoch.astype(np.float64), 3),
        cents=cents.astype(np.int64),
    )


def local_days(seconds: Ints) -> Ints:
    """Calendar days in TIME_ZONE (days since 1970-01-01) of Unix times in whole seconds.

    The UTC offset is looked up (zoneinfo, as Django converts times) once per hour of the span, and
    per order only within an hour in which it changes (a daylight-saving switch that is not on the
    hour), so the result is exact for every zone."""
    if seconds.size == 0:
        return seconds.astype(np.int64)
    zone = timezone.get_default_timezone()

    def offset(at: int) -> int:
        delta = datetime.fromtimestamp(at, UTC).astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    hours = seconds // 3600
    low = int(hours.min())
    span = int(hours.max()) - low + 1
    if span <= 4 * 366 * 24 * 25:  # a table of one offset per hour of up to a century
        starts = np.asarray([offset((low + k) * 3600) for k in range(span)], dtype=np.int64)
        ends = np.asarray([offset((low + k) * 3600 + 3599) for k in range(span)], dtype=np.int64)
        index = hours - low
    else:  # a few outliers stretch the span: look up only the hours that occur
        distinct, index = np.unique(hours, return_inverse=True)
        starts = np.asarray([offset(int(h) * 3600) for h in distinct], dtype=np.int64)
        ends = np.asarray([offset(int(h) * 3600 + 3599) for h in distinct], dtype=np.int64)
    offsets = starts[index]
    if (starts != ends).any():
        for k in np.flatnonzero((starts != ends)[index]):
            offsets[k] = offset(int(seconds[k]))
    result: Ints = (seconds + offsets) // 86400
    return result


def local_day(moment: datetime) -> int:
    """The calendar day in TIME_ZONE (days since 1970-01-01) of one moment, e.g. the reference time."""
    return (timezone.localtime(moment, timezone.get_default_timezone()).date() - date(1970, 1, 1)).days


def group_orders(rows_: OrderRows) -> Aggregates:
    """Per-customer aggregates of order rows: one sort by (customer, day), then segment reductions.

    A purchase day is all of a customer's orders on one calendar day (their spend summed), as
    `lifetimes.utils.summary_data_from_transaction_data(..., freq="D")` groups transactions."""
    if rows_.customer_id.size == 0:
        return Aggregates.empty()
    order = _customer_day_order(rows_.customer_id, rows_.day)
    customer = rows_.customer_id[order]
    day = rows_.day[order]
    cents = rows_.cents[order]
    epoch = rows_.epoch[order]
    n = customer.size
    new_customer = np.empty(n, dtype=bool)
    new_customer[0] = True
    np.not_equal(customer[1:], customer[:-1], out=new_customer[1:])
    new_day = new_customer.copy()
    new_day[1:] |= day[1:] != day[:-1]
    customer_rows = np.flatnonzero(new_customer)  # first row of each customer
    day_rows = np.flatnonzero(new_day)  # first row of each purchase day
    day_cents = np.add.reduceat(cents, day_rows)
    customer_days = np.flatnonzero(new_customer[day_rows])  # first purchase day of each customer
    last_days = np.r_[customer_days[1:], day_rows.size] - 1
    total_cents = np.add.reduceat(day_cents, customer_days)
    return Aggregates(
        customer_id=customer[customer_rows],
        orders=np.diff(np.r_[customer_rows, n]).astype(np.float64),
        first_epoch=np.minimum.reduceat(epoch, customer_rows),
        last_epoch=np.maximum.reduceat(epoch, customer_rows),
        # Sums of integer cents, then one division: exactly the float the SQL aggregate gives.
        monetary=total_cents.astype(np.float64) / 100,
        days=np.diff(np.r_[customer_days, day_rows.size]).astype(np.float64),
        first_day=day[day_rows[customer_days]].astype(np.float64),
        last_day=day[day_rows[last_days]].astype(np.float64),
        repeat_spend=(total_cents - day_cents[customer_days]).astype(np.float64) / 100,
    )


def _customer_day_order(customer: Ints, day: Ints) -> Ints:
    """The permutation that sorts by (customer, day): one argsort of a packed 64-bit key (about twice
    as fast as a two-key lexsort) whenever ids and days fit in it."""
    if int(customer.min()) >= 0 and int(customer.max()) < 2**42 and int(day.min()) >= 0 and int(day.max()) < 2**21:
        order: Ints = np.argsort((customer << 21) | day)
        return order
    fallback: Ints = np.lexsort((day, customer))
    return fallback


def _order_rows(as_of: datetime, ids: Sequence[int] | None) -> OrderRows:
    return _pg_order_rows(as_of, ids) if _is_postgres() else _sqlite_order_rows(as_of, ids)


def aggregate_customers(customer_ids: Sequence[int], as_of: datetime) -> Aggregates:
    """Order aggregates of the given customers only (uses the customer/time index)."""
    if not customer_ids:
        return Aggregates.empty()
    if not _is_postgres():
        return group_orders(_sqlite_order_rows(as_of, customer_ids))
    parts = [_pg_order_rows(as_of, customer_ids[s : s + ID_CHUNK]) for s in range(0, len(customer_ids), ID_CHUNK)]
    merged = OrderRows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(OrderRows)))
    return group_orders(merged)


def _raise_work_mem(cursor: Any) -> None:
    # Hash aggregation over the whole table; an index walk with the stock work_mem is ~4x slower.
    cursor.execute("SET LOCAL work_mem = '256MB'")


def aggregate_all(as_of: datetime) -> Aggregates:
    """Every active customer's order aggregates (merged customers left out), sorted by customer id.

    The database only filters and ships the counted orders (PostgreSQL: one parallel scan whose rows
    come back as four arrays in a single binary COPY row); numpy groups them by customer and day.
    """
    agg = group_orders(_order_rows(as_of, None))
    with connection.cursor() as cursor:
        cursor.execute(_inactive_customers())
        inactive = np.asarray([row[0] for row in cursor.fetchall()], dtype=np.int64)
    if inactive.size:
        agg = agg.take(np.flatnonzero(~np.isin(agg.customer_id, inactive)))
    return agg


def _pg_micros_to_epoch(micros: NDArray[Any]) -> Floats:
    # Exact integer microseconds / 1e6, correctly rounded: the same float as EXTRACT(EPOCH …)::float8.
    result: Floats = (micros.astype(np.int64) + rows.PG_EPOCH_MICROS) / 1e6
    return result


def _binary_arrays(payload: bytes, element_types: Sequence[str]) -> list[NDArray[Any] | None]:
    """The one-dimensional arrays of fixed-width elements in a one-row binary COPY (None for NULL)."""
    if len(payload) <= len(rows.BINARY_HEADER) + 2:
        return [None] * len(element_types)
    offset = len(rows.BINARY_HEADER)
    fields = int.from_bytes(payload[offset : offset + 2], "big", signed=True)
    if fields != len(element_types):
        raise ValueError(f"expected {len(element_types)} columns, got {fields}")
    offset += 2
    result: list[NDArray[Any] | None] = []
    for element_type in element_types:
        length = int.from_bytes(payload[offset : offset + 4], "big", signed=True)
        offset += 4
        if length < 0:
            result.append(None)
            continue
        ndim, has_nulls = (int.from_bytes(payload[offset + k : offset + k + 4], "big") for k in (0, 4))
        if ndim != 1 or has_nulls:
            raise ValueError("expected a one-dimensional array without NULLs")
        size = int.from_bytes(payload[offset + 12 : offset + 16], "big")
        layout = np.dtype([("length", ">i4"), ("value", element_type)])
        elements = np.frombuffer(payload, dtype=layout, count=size, offset=offset + 20)
        result.append(elements["value"])
        offset += length
    return result


def aggregate_all_into_temp(as_of: datetime) -> None:
    """The aggregate into the temp table `scoring_agg` (the plain-SQL form, for `quintile_cuts`)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scoring_agg")
        if _is_postgres():
            _raise_work_mem(cursor)
        cursor.execute(f"CREATE TEMP TABLE scoring_agg AS {_aggregate_select('')}", [as_of])


def ntile_cuts(values: Floats) -> list[float]:
    """Maxima of tiles 1..4 of NTILE(5) OVER (ORDER BY value): the first n mod 5 tiles get one row more."""
    n = values.size
    if n < 5:
        return []
    ordered = np.sort(values)
    sizes = np.full(5, n // 5) + (np.arange(5) < n % 5)
    ends = np.cumsum(sizes)[:4] - 1
    return [float(v) for v in ordered[ends]]


def quintile_cuts(as_of: datetime) -> tuple[list[float], list[float], list[float]]:
    """Upper bounds of quintiles 1..4 of recency days, order count and net spend, with NTILE in SQL."""
    as_of_epoch = as_of.timestamp()
    expressions = {
        "recency": "CAST((%s - last_epoch) / 86400.0 AS INTEGER)",
        "frequency": "orders",
        "monetary": "monetary",
    }
    result: dict[str, list[float]] = {}
    with connection.cursor() as cursor:
        for name, expr in expressions.items():
            params = [as_of_epoch] if "%s" in expr else []
            cursor.execute(
                f"SELECT tile, MAX(v) FROM (SELECT NTILE(5) OVER (ORDER BY v) AS tile, v "
                f"FROM (SELECT {expr} AS v FROM scoring_agg) AS vals) AS tiles GROUP BY tile ORDER BY tile",
                params,
            )
            maxima = [float(v) for _, v in cursor.fetchall()]
            result[name] = maxima[:4] if len(maxima) == 5 else []
    return result["recency"], result["frequency"], result["monetary"]


def need_counts(customer_ids: Sequence[int] | None) -> dict[int, tuple[int, int, int]]:
    """{customer_id: (open needs, urgent open needs, high open needs)} in one GROUP BY."""
    table = Need._meta.db_table
    statuses = ", ".join(f"'{s}'" for s in OPEN_NEED_STATUSES)
    sql = (
        f"SELECT customer_id, COUNT(*), SUM(CASE WHEN level = '{NeedLevel.URGENT.value}' THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN level = '{NeedLevel.HIGH.value}' THEN 1 ELSE 0 END) FROM {table} "
        f"WHERE status IN ({statuses}) {{ids}} GROUP BY customer_id"
    )
    result: dict[int, tuple[int, int, int]] = {}
    with connection.cursor() as cursor:
        if customer_ids is None:
            cursor.execute(sql.format(ids=""))
            rows = cursor.fetchall()
        else:
            rows = []
            for start in range(0, len(customer_ids), ID_CHUNK):
                chunk = customer_ids[start : start + ID_CHUNK]
                clause, params = _ids_clause(chunk)
                cursor.execute(sql.format(ids=clause.replace("o.customer_id", "customer_id")), params)
                rows.extend(cursor.fetchall())
    for cid, total, urgent, high in rows:
        result[int(cid)] = (int(total), int(urgent or 0), int(high or 0))
    return result


# --- scoring ------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Per-customer counts as arrays: sorted customer ids and an (n, width) matrix."""

    customer_id: Ints
    values: Floats

    @classmethod
    def from_dict(cls, counts: Mapping[int, tuple[int, ...]] | Mapping[int, int], width: int) -> Counts:
        keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.asarray(list(counts.values()), dtype=np.float64).reshape(len(counts), width)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], values[order])

    def spread(self, customer_ids: Ints) -> Floats:
        """The counts aligned with `customer_ids` (zeros for customers without any)."""
        out = np.zeros((customer_ids.size, self.values.shape[1]))
        if self.customer_id.size == 0 or customer_ids.size == 0:
            return out
        where = np.minimum(np.searchsorted(self.customer_id, customer_ids), self.customer_id.size - 1)
        found = self.customer_id[where] == customer_ids
        out[found] = self.values[where[found]]
        return out

    def nonzero_ids(self) -> Ints:
        return self.customer_id[self.values[:, 0] > 0]


def _union(a: Ints, b: Ints) -> Ints:
    """Sorted distinct ids of both (np.union1d's hashing np.unique is ~10x slower on a million ids)."""
    merged = np.sort(np.concatenate([a, b]))
    result: Ints = merged[np.r_[True, merged[1:] != merged[:-1]]] if merged.size else merged
    return result


def _without(a: Ints, sorted_b: Ints) -> Ints:
    """The ids of `a` that are not in the sorted array `sorted_b`."""
    if sorted_b.size == 0:
        return a
    where = np.minimum(np.searchsorted(sorted_b, a), sorted_b.size - 1)
    result: Ints = a[sorted_b[where] != a]
    return result


@dataclass
class Scored:
    customer_ids: Ints
    columns: list[rows.Column]

    def __len__(self) -> int:
        return int(self.customer_ids.size)


def _model_inputs(agg: Aggregates, as_of: datetime) -> tuple[Floats, Floats, Floats, Floats]:
    """BG/NBD and Gamma-Gamma inputs per customer, as `lifetimes` defines them with freq="D", in weeks:
    x = purchase days − 1; t_x = (last − first purchase day) / 7; T = (reference day − first purchase
    day) / 7; m = mean net spend of the repeat days (the first day left out; 0 when x = 0)."""
    x = agg.days - 1.0
    t_x = (agg.last_day - agg.first_day) / 7.0
    T = np.maximum((local_day(as_of) - agg.first_day) / 7.0, t_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(x > 0, agg.repeat_spend / np.maximum(x, 1.0), 0.0)
    return x, t_x, T, m


Basis = tuple[Floats, Floats, Floats]


def fit_state(agg: Aggregates, as_of: datetime, previous: ScoringRun | None) -> tuple[State, Basis]:
    """Cut points (already in SQL) aside, fit the value models and derive tier thresholds."""
    state = State(as_of=as_of)
    if previous is not None:
        state.bgnbd = value_models.BgNbdParams.from_dict(previous.bgnbd)
        state.gamma_gamma = value_models.GammaGammaParams.from_dict(previous.gamma_gamma)
    x, t_x, T, m = _model_inputs(agg, as_of)
    if x.size >= MIN_FIT_CUSTOMERS:
        rng = np.random.default_rng(0)
        sample = rng.choice(x.size, FIT_SAMPLE, replace=False) if x.size > FIT_SAMPLE else np.arange(x.size)
        try:
            start = (
                (state.bgnbd.r, state.bgnbd.alpha, state.bgnbd.a, state.bgnbd.b)
                if state.bgnbd
                else (1.0, 1.0, 1.0, 1.0)
            )
            fitted = value_models.fit_bgnbd(x[sample], t_x[sample], T[sample], initial=start)
            if all(math.isfinite(v) and v > 0 for v in (fitted.r, fitted.alpha, fitted.a, fitted.b)):
                state.bgnbd = fitted
        except (ValueError, FloatingPointError):
            logger.warning("BG/NBD fit failed; keeping the previous parameters", exc_info=True)
        repeat = np.flatnonzero((x > 0) & (m > 0))
        if repeat.size >= MIN_FIT_CUSTOMERS:
            chosen = rng.choice(repeat, FIT_SAMPLE, replace=False) if repeat.size > FIT_SAMPLE else repeat
            try:
                gg_start = (
                    (state.gamma_gamma.p, state.gamma_gamma.q, state.gamma_gamma.gamma)
                    if state.gamma_gamma
                    else (1.0, 1.0, 1.0)
                )
                gg = value_models.fit_gamma_gamma(x[chosen], m[chosen], initial=gg_start)
                if gg.q > 1 and all(math.isfinite(v) and v > 0 for v in (gg.p, gg.q, gg.gamma)):
                    state.gamma_gamma = gg
            except (ValueError, FloatingPointError):
                logger.warning("Gamma-Gamma fit failed; keeping the previous parameters", exc_info=True)
    basis = _value_basis(agg, state)
    value = basis[2]
    if value.size:
        state.tier_a_min = float(np.quantile(value, 1 - TIER_A_SHARE))
        state.tier_b_min = float(np.quantile(value, 1 - TIER_A_SHARE - TIER_B_SHARE))
        state.value_scale = max(float(np.quantile(value, 0.95)), 1e-9)
    return state, basis


def _value_basis(agg: Aggregates, state: State) -> Basis:
    """(P(alive), expected purchases, expected 12-month value); without fitted models: NaN, NaN, net spend."""
    x, t_x, T, m = _model_inputs(agg, state.as_of)
    if state.bgnbd is None:
        nan = np.full(x.shape, np.nan)
        return nan, nan, agg.monetary.copy()
    p_alive = value_models.bgnbd_p_alive(state.bgnbd, x, t_x, T)
    purchases = value_models.bgnbd_expected_purchases(state.bgnbd, HORIZON_WEEKS, x, t_x, T)
    if state.gamma_gamma is not None:
        spend = value_models.gamma_gamma_expected_value(state.gamma_gamma, x, m)
    else:
        # No spend model yet: the customer's own mean spend per purchase day.
        spend = agg.monetary / np.maximum(agg.days, 1.0)
    return p_alive, purchases, purchases * spend


def score(
    customer_ids: Ints,
    agg: Aggregates,
    state: State,
    needs: Counts,
    tickets: Counts,
    computed_at: datetime,
    basis: Basis | None = None,
) -> Scored:
    """Score `customer_ids` (sorted; a superset of agg.customer_id) against `state`, column-wise."""
    n = customer_ids.size
    pos = np.searchsorted(customer_ids, agg.customer_id)
    has_orders = np.zeros(n, dtype=bool)
    has_orders[pos] = True
    no_orders = ~has_orders

    def spread(values: NDArray[Any], fill: Any = np.nan, dtype: Any = np.float64) -> NDArray[Any]:
        out = np.full(n, fill, dtype=dtype)
        out[pos] = values
        return out

    as_of_epoch = state.as_of.timestamp()
    recency_days = np.floor((as_of_epoch - agg.last_epoch) / DAY)
    r_scores = rfm.score_recency(recency_days, state.recency_cuts)
    f_scores = rfm.score_ascending(agg.orders, state.frequency_cuts)
    m_scores = rfm.score_ascending(agg.monetary, state.monetary_cuts)
    segment_index = rfm.segment_indexes(r_scores, f_scores) + 1  # 0 stands for "" (no orders)
    p_alive, purchases, value = basis if basis is not None else _value_basis(agg, state)
    tier_codes = np.where(value >= state.tier_a_min, 1, np.where(value >= state.tier_b_min, 2, 3))
    # The usual gap between purchase days (several orders on one day are one purchase, so it is
    # never a fraction of a day).
    repeat_days = agg.days - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        usual_gap = np.where(repeat_days > 0, (agg.last_day - agg.first_day) / np.maximum(repeat_days, 1), np.nan)

    need_arr = needs.spread(customer_ids)
    ticket_arr = tickets.spread(customer_ids)[:, 0]
    tier_full = spread(tier_codes, 0, np.int64)
    scores, reasons = priority.compute_priority(
        priority.PriorityInput(
            has_orders=has_orders,
            expected_value=spread(value, 0.0),
            value_scale=state.value_scale,
            value_tier=tier_full,
            tier_labels=TIER_CATEGORIES,
            p_alive=spread(p_alive),
            recency_days=spread(recency_days),
            usual_gap_days=spread(usual_gap),
            urgent_needs=need_arr[:, 1],
            high_needs=need_arr[:, 2],
            open_tickets=ticket_arr,
        )
    )
    orders = spread(agg.orders, 0.0)
    monetary = spread(agg.monetary, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        average = np.where(orders > 0, monetary / np.maximum(orders, 1), 0.0)
    p_alive_full = spread(p_alive)
    purchases_full = spread(purchases)
    value_full = spread(value)
    no_model = np.full(n, state.bgnbd is None)
    columns = [
        rows.Column("int", customer_ids),
        rows.Column("timestamp", spread(agg.first_epoch, 0.0), null=no_orders),
        rows.Column("timestamp", spread(agg.last_epoch, 0.0), null=no_orders),
        rows.Column("int", spread(recency_days, 0.0), null=no_orders),
        rows.Column("int", orders),
        rows.Column("fixed", monetary, decimals=2),
        rows.Column("fixed", average, decimals=2),
        rows.Column("int", spread(r_scores, 0, np.int64), null=no_orders),
        rows.Column("int", spread(f_scores, 0, np.int64), null=no_orders),
        rows.Column("int", spread(m_scores, 0, np.int64), null=no_orders),
        rows.Column("text", spread(segment_index, 0, np.int64), categories=SEGMENT_CATEGORIES),
        rows.Column("fixed", p_alive_full, null=np.isnan(p_alive_full), decimals=6),
        rows.Column("fixed", purchases_full, null=np.isnan(purchases_full), decimals=4),
        rows.Column("fixed", value_full, null=no_orders | no_model | np.isnan(value_full), decimals=2),
        rows.Column("text", tier_full, categories=TIER_CATEGORIES),
        rows.Column("int", need_arr[:, 0]),
        rows.Column("int", need_arr[:, 1]),
        rows.Column("int", ticket_arr),
        rows.Column("fixed", scores, decimals=2),
        rows.Column("json", reasons.matrix, lengths=reasons.lengths),
        rows.Column("timestamp", np.full(n, computed_at.timestamp())),
    ]
    return Scored(customer_ids=customer_ids, columns=columns)


def score_in_chunks(
    customer_ids: Ints,
    agg: Aggregates,
    state: State,
    needs: Counts,
    tickets: Counts,
    computed_at: datetime,
    basis: Basis | None = None,
) -> Iterator[Scored]:
    """`score` over consecutive slices of `customer_ids`, so writing can start before scoring ends."""
    for start in range(0, customer_ids.size, SCORE_CHUNK):
        chunk = customer_ids[start : start + SCORE_CHUNK]
        low = int(np.searchsorted(agg.customer_id, chunk[0], side="left"))
        high = int(np.searchsorted(agg.customer_id, chunk[-1], side="right"))
        part = slice(low, high)
        chunk_basis = None if basis is None else (basis[0][part], basis[1][part], basis[2][part])
        yield score(chunk, agg.take(part), state, needs, tickets, computed_at, chunk_basis)


# --- writing ------------------------------------------------------------------------------------


def _column_types(cursor: Any, table: str) -> dict[str, str]:
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [table],
    )
    return dict(cursor.fetchall())


def _copy_in(cursor: Any, table: str, parts: Iterable[Scored], *, freeze: bool = False) -> int:
    """Binary COPY of the scored parts into `table`. A writer thread feeds the connection, so
    PostgreSQL parses one part while the next one is scored and encoded here."""
    types = _column_types(cursor, table)
    pg_types = [types[c] for c in SCORE_COLUMNS]
    written = 0
    options = "FORMAT binary, FREEZE" if freeze else "FORMAT binary"
    statement = f"COPY {table} ({', '.join(SCORE_COLUMNS)}) FROM STDIN WITH ({options})"
    with cursor.cursor.copy(statement, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
        copy.write(rows.BINARY_HEADER)
        for part in parts:
            for block in rows.binary_rows(part.columns, pg_types):
                copy.write(memoryview(block.reshape(-1)))
            written += len(part)
        copy.write(rows.BINARY_TRAILER)
    return written


def _with_lock_retries(cursor: Any, statements: Sequence[str]) -> None:
    """Run lock-taking statements without queueing readers behind a long wait: each try gives up
    after LOCK_TIMEOUT_MS (rolled back to a savepoint, locks released), backs off and tries again;
    the last try waits as long as it takes."""
    for attempt in range(LOCK_ATTEMPTS):
        try:
            with transaction.atomic():
                cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
    for statement in statements:
        cursor.execute(statement)


def _swappable(cursor: Any, table: str) -> bool:
    """True when the table can be replaced by a rebuilt copy: we may drop it and create tables
    beside it, and nothing else hangs on it (views, rules, triggers, row security, publications,
    inheritance, foreign keys pointing at it)."""
    cursor.execute(
        "SELECT c.relkind = 'r' AND NOT c.relrowsecurity AND pg_has_role(c.relowner, 'MEMBER') "
        "AND has_schema_privilege(c.relnamespace, 'CREATE') "
        "AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refobjid = c.oid "
        "    AND d.classid = 'pg_rewrite'::regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.oid) "
        "AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) "
        "AND NOT EXISTS (SELECT 1 FROM pg_publication_rel p WHERE p.prrelid = c.oid) "
        "FROM pg_class c WHERE c.oid = %s::regclass",
        [table],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


@dataclass
class _TableCopy:
    """How to give a rebuilt table the live table's indexes, keys, grants and owner."""

    indexes: list[tuple[str, str]]  # (temporary name, final name)
    build: list[str]  # after the load: indexes and key constraints under temporary names
    attach: list[str]  # at the swap: foreign keys (NOT VALID; validated after the commit)
    grant: list[str]


def _table_copy(cursor: Any, table: str, new: str) -> _TableCopy:
    copy = _TableCopy([], [], [], [])
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, "
        "pg_get_constraintdef(c.oid) FROM pg_index i "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid "
        "WHERE i.indrelid = %s::regclass ORDER BY i.indisprimary DESC, 1",
        [table],
    )
    for k, (index, definition, constraint, constraint_definition) in enumerate(cursor.fetchall()):
        temporary = f"{new}_i{k}"
        copy.indexes.append((temporary, index.split(".")[-1].strip('"')))
        if constraint:
            copy.build.append(f'ALTER TABLE {new} ADD CONSTRAINT "{temporary}" {constraint_definition}')
            continue
        statement, found = re.subn(
            r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ", rf"CREATE \1INDEX {temporary} ON {new} ", definition
        )
        if found != 1:
            raise ValueError(f"cannot copy index definition {definition!r}")
        copy.build.append(statement)
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    copy.attach = [
        f'ALTER TABLE {new} ADD CONSTRAINT "{name}" {definition} NOT VALID' for name, definition in cursor.fetchall()
    ]
    cursor.execute(
        "SELECT quote_ident(pg_get_userbyid(relowner)) FROM pg_class WHERE oid = %s::regclass "
        "AND pg_get_userbyid(relowner) <> current_user",
        [table],
    )
    copy.grant += [f"ALTER TABLE {new} OWNER TO {owner}" for (owner,) in cursor.fetchall()]
    cursor.execute(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) "
        "END, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s::regclass "
        "AND a.grantee <> c.relowner",
        [table],
    )
    copy.grant += [
        f"GRANT {privilege} ON {new} TO {role}{' WITH GRANT OPTION' if grantable else ''}"
        for privilege, role, grantable in cursor.fetchall()
    ]
    return copy


def _replace_by_swap(cursor: Any, table: str, parts: Iterable[Scored], timings: dict[str, float]) -> int:
    """Build the complete new contents as a new table beside the live one, then swap it in.

    Readers see the old table, untouched, until the commit; the live table is locked exclusively only
    for the swap itself (drop, rename — milliseconds), and writes to customers wait only while the
    foreign key is attached (its check runs after the commit, blocking nobody).
    """
    new = f"{table}_next"
    cursor.execute(f"DROP TABLE IF EXISTS {new}")
    cursor.execute(
        f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE "
        "INCLUDING COMMENTS INCLUDING STATISTICS INCLUDING COMPRESSION)"
    )
    cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
    options = cursor.fetchone()[0]
    if options:
        cursor.execute(f"ALTER TABLE {new} SET ({', '.join(options)})")
    plan = _table_copy(cursor, table, new)
    # Created in this transaction: rows go in already frozen (no later hint-bit or freeze rewrites).
    written = _copy_in(cursor, new, parts, freeze=True)
    timings["copy"] = time.perf_counter()
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for statement in plan.build:
        cursor.execute(statement)
    # Planner statistics before readers arrive, except for the JSON column (costly, never filtered on).
    analyzed = [name for name, kind in _column_types(cursor, new).items() if kind not in ("json", "jsonb")]
    cursor.execute(f"ANALYZE {new} ({', '.join(analyzed)})")
    for statement in plan.grant:
        cursor.execute(statement)
    timings["indexes"] = time.perf_counter()
    # TRUNCATE/DROP refuse while deferred FK checks on the old table are pending in this transaction.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _with_lock_retries(cursor, [*plan.attach, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"])
    cursor.execute(f"DROP TABLE {table}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {table}")
    for temporary, final in plan.indexes:
        cursor.execute(f'ALTER INDEX "{temporary}" RENAME TO "{final}"')
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    timings["swap"] = time.perf_counter()
    return written


def validate_foreign_keys() -> None:
    """Validate the score table's NOT VALID foreign keys (left by a swap), without blocking writers:
    VALIDATE takes only a SHARE UPDATE EXCLUSIVE lock. Rows of customers deleted while the run
    was computing are removed first if the check finds any."""
    table = CustomerScore._meta.db_table
    if not _is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' AND NOT convalidated",
            [table],
        )
        for (name,) in cursor.fetchall():
            try:
                with transaction.atomic():
                    cursor.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
            except IntegrityError:
                with transaction.atomic():
                    cursor.execute(
                        f"DELETE FROM {table} s WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {Customer._meta.db_table} c WHERE c.id = s.customer_id)"
                    )
                    cursor.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')


def write_scores(parts: Scored | Iterable[Scored], *, replace_all: bool, rows_hint: int = 0) -> dict[str, float]:
    """Write scored rows; returns when steps ended (`time.perf_counter()` values).

    Incremental: upsert through a temporary staging table. Full (`replace_all`): replace the
    table's contents in the caller's transaction. PostgreSQL with `rows_hint` ≥ SWAP_ROWS: build
    and swap a new table (`_replace_by_swap`); otherwise TRUNCATE + COPY (PostgreSQL) or DELETE +
    executemany (SQLite).
    """
    items: Iterable[Scored] = [parts] if isinstance(parts, Scored) else parts
    table = CustomerScore._meta.db_table
    cols = ", ".join(SCORE_COLUMNS)
    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        if not _is_postgres():
            if replace_all:
                cursor.execute(f"DELETE FROM {table}")
            placeholders = ", ".join(["%s"] * len(SCORE_COLUMNS))
            verb = "INSERT" if replace_all else "INSERT OR REPLACE"
            for part in items:
                if len(part):
                    cursor.executemany(
                        f"{verb} INTO {table} ({cols}) VALUES ({placeholders})", rows.python_rows(part.columns)
                    )
            return timings
        if replace_all and rows_hint >= SWAP_ROWS and _swappable(cursor, table):
            _replace_by_swap(cursor, table, items, timings)
            return timings
        if replace_all:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {table}")
            _copy_in(cursor, table, items, freeze=True)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return timings
        cursor.execute("DROP TABLE IF EXISTS scoring_upd")
        cursor.execute(f"CREATE TEMP TABLE scoring_upd AS SELECT {cols} FROM {table} WHERE 1 = 0")
        _copy_in(cursor, "scoring_upd", items)
        updates = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS[1:])
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM scoring_upd WHERE true "
            f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"
        )
        cursor.execute("DROP TABLE scoring_upd")
    return timings


# --- runs ---------------------------------------------------------------------------------------


def _noop(step: str, done: int, total: int) -> None:
    return None


def latest_run() -> ScoringRun | None:
    return ScoringRun.objects.filter(finished_at__isnull=False).order_by("-id").first()


def _ticket_counts(customer_ids: Sequence[int] | None) -> Counts:
    return Counts.from_dict(priority.count_open_items("tickets", customer_ids), 1)


def _advisory_lock(*, shared: bool) -> None:
    if _is_postgres():
        with connection.cursor() as cursor:
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            cursor.execute(f"SELECT {function}(%s)", [ADVISORY_LOCK])


def _active_ids(ids: Sequence[int]) -> list[int]:
    """`ids` without merged customers: looked up in the small partial index of inactive customers
    (ids of customers that do not exist simply yield no rows later)."""
    inactive: set[int] = set()
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        inactive.update(Customer.objects.filter(pk__in=chunk, is_active=False).values_list("id", flat=True))
    return sorted(set(ids) - inactive)


def recompute_full(*, as_of: datetime | None = None, refit: bool = True, progress: Progress = _noop) -> ScoringRun:
    """Recompute every active customer's score; with `refit`, refresh cut points and model parameters."""
    as_of = as_of or timezone.now()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    with transaction.atomic():
        _advisory_lock(shared=False)
        previous = latest_run()
        progress("aggregate", 0, 6)
        agg = aggregate_all(as_of)
        timings["aggregate"] = time.perf_counter() - clock
        progress("cut points", 1, 6)
        if refit or previous is None:
            # The NTILE(5) cut points of `quintile_cuts`, computed on the fetched arrays (one sort
            # each in numpy instead of three window-function sorts in the database; tested equal).
            recency_cuts = ntile_cuts(np.floor((as_of.timestamp() - agg.last_epoch) / DAY))
            frequency_cuts = ntile_cuts(agg.orders)
            monetary_cuts = ntile_cuts(agg.monetary)
        timings["cuts"] = time.perf_counter() - clock
        progress("models", 2, 6)
        basis: Basis | None = None
        if refit or previous is None:
            state, basis = fit_state(agg, as_of, previous)
            state.recency_cuts, state.frequency_cuts, state.monetary_cuts = recency_cuts, frequency_cuts, monetary_cuts
        else:
            state = State.from_run(previous, as_of)
        timings["fit"] = time.perf_counter() - clock
        progress("needs", 3, 6)
        needs = Counts.from_dict(need_counts(None), 3)
        tickets = _ticket_counts(None)
        # Customers with orders are already the active ones (the aggregate left merged ones out);
        # add active customers that only have open needs or tickets.
        others = _without(_union(needs.nonzero_ids(), tickets.nonzero_ids()), agg.customer_id)
        extra = np.asarray(_active_ids(others.tolist()), dtype=np.int64)
        ids = _union(agg.customer_id, extra)
        timings["needs"] = time.perf_counter() - clock
        progress("score and write", 4, 6)
        parts = score_in_chunks(ids, agg, state, needs, tickets, timezone.now(), basis)
        steps = write_scores(parts, replace_all=True, rows_hint=int(ids.size))
        timings.update({step: stamp - clock for step, stamp in steps.items()})
        timings["write"] = time.perf_counter() - clock
        run = ScoringRun.objects.create(
            as_of=as_of,
            finished_at=timezone.now(),
            recency_cuts=state.recency_cuts,
            frequency_cuts=state.frequency_cuts,
            monetary_cuts=state.monetary_cuts,
            bgnbd=state.bgnbd.as_dict() if state.bgnbd else {},
            gamma_gamma=state.gamma_gamma.as_dict() if state.gamma_gamma else {},
            tier_a_min=state.tier_a_min,
            tier_b_min=state.tier_b_min,
            value_scale=state.value_scale,
            customers=int(ids.size),
            orders=int(agg.orders.sum()),
            timings={k: round(v, 3) for k, v in timings.items()},
        )
    progress("check keys", 5, 6)
    validate_foreign_keys()
    progress("done", 6, 6)
    return run


def recompute_customers(customer_ids: Sequence[int], *, as_of: datetime | None = None) -> int:
    """Rescore some customers against the latest full run's state. Returns how many were written."""
    wanted = sorted({int(c) for c in customer_ids})
    if latest_run() is None:
        return recompute_full(as_of=as_of).customers
    if not wanted:
        return 0
    active = _active_ids(wanted)
    with transaction.atomic():
        _advisory_lock(shared=True)
        run = latest_run()
        assert run is not None
        as_of = as_of or timezone.now()
        state = State.from_run(run, as_of)
        agg = aggregate_customers(active, as_of)
        needs = Counts.from_dict(need_counts(active), 3)
        tickets = _ticket_counts(active)
        ids = _union(_union(agg.customer_id, needs.nonzero_ids()), tickets.nonzero_ids())
        write_scores(score(ids, agg, state, needs, tickets, timezone.now()), replace_all=False)
        gone = sorted(set(wanted) - set(ids.tolist()))
        if gone:
            CustomerScore.objects.filter(customer_id__in=gone).delete()
    return int(ids.size)
