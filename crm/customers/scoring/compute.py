# SQL here is built only from model table names and enum constants; values go as parameters.
# ruff: noqa: S608
"""The recomputation pipeline: SQL aggregates → vectorised scoring → one bulk upsert.

Full run: aggregate every customer's paid orders (net of refunds) in one GROUP BY into a temp
table, compute quintile cut points there with NTILE, fit BG/NBD and Gamma-Gamma on (a sample
of) the aggregates, derive tiers and priorities with numpy, and merge all rows into
`CustomerScore` through a staging table (COPY on PostgreSQL, executemany on SQLite).
Incremental run: the same for a list of customers, scored against the latest run's stored
cut points and parameters, so it costs little and agrees with a full run on the same state.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from numpy.typing import NDArray

from crm.customers.choices import NeedLevel, NeedStatus, OrderStatus
from crm.customers.models import Customer, CustomerScore, Need, Order
from crm.customers.scoring import priority, rfm, rows, value_models
from crm.customers.scoring.store.models import ScoringRun

logger = logging.getLogger(__name__)

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Progress = Callable[[str, int, int], None]

DAY = 86400.0
WEEK = 7 * DAY
HORIZON_WEEKS = 52.0  # "next 12 months"
FIT_SAMPLE = 100_000  # customers used to fit the models in a full run (random, fixed seed)
MIN_FIT_CUSTOMERS = 50  # fewer customers with orders: keep the previous parameters
TIER_A_SHARE = 0.20
TIER_B_SHARE = 0.30
COUNTED_STATUSES = (OrderStatus.PAID.value, OrderStatus.PARTIALLY_REFUNDED.value)
OPEN_NEED_STATUSES = (NeedStatus.OPEN.value, NeedStatus.IN_PROGRESS.value)
ID_CHUNK = 5000

SEGMENT_CATEGORIES = ("", *rfm.SEGMENT_CODES)
TIER_CATEGORIES = ("", "A", "B", "C")
# SQL type of each score column, for the binary bulk path (see rows.binary_plan).
SCORE_TARGETS = (
    "int", "timestamp", "timestamp", "int", "int", "numeric", "numeric", "int", "int", "int", "text",
    "float", "float", "numeric", "text", "int", "int", "int", "float", "jsonb", "timestamp",
)  # fmt: skip
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
    """Per-customer order aggregates, aligned arrays."""

    customer_id: Ints
    orders: Floats
    first_epoch: Floats
    last_epoch: Floats
    monetary: Floats

    @classmethod
    def empty(cls) -> Aggregates:
        return cls(*(np.zeros(0, dtype=np.int64 if i == 0 else np.float64) for i in range(5)))  # type: ignore[arg-type]


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


def _net_amount() -> str:
    # float8 keeps the hash aggregate's state small (a numeric SUM state is ~3x larger and slower);
    # sums of two-decimal amounts stay exact to the cent far beyond any real customer's spend.
    if _is_postgres():
        return "(o.total_amount - o.refunded_amount)::float8"
    return "CAST(o.total_amount - o.refunded_amount AS REAL)"


def _aggregate_select(where_ids: str) -> str:
    order = Order._meta.db_table
    statuses = ", ".join(f"'{s}'" for s in COUNTED_STATUSES)
    return (
        f"SELECT o.customer_id, COUNT(*) AS orders, {_epoch('MIN(o.ordered_at)')} AS first_epoch, "
        f"{_epoch('MAX(o.ordered_at)')} AS last_epoch, "
        f"SUM({_net_amount()}) AS monetary "
        f"FROM {order} o WHERE o.status IN ({statuses}) AND o.ordered_at <= %s {where_ids} "
        f"GROUP BY o.customer_id"
    )


def _ids_clause(ids: Sequence[int]) -> tuple[str, list[Any]]:
    if _is_postgres():
        return "AND o.customer_id = ANY(%s)", [list(ids)]
    return f"AND o.customer_id IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _to_arrays(rows: list[tuple[Any, ...]]) -> Aggregates:
    if not rows:
        return Aggregates.empty()
    ids, orders, first, last, money = zip(*rows, strict=True)
    first_epoch = np.asarray(first, dtype=np.float64)
    last_epoch = np.asarray(last, dtype=np.float64)
    if not _is_postgres():
        # julianday() carries ~50 µs of floating-point noise at today's dates: keep milliseconds.
        first_epoch = np.round(first_epoch, 3)
        last_epoch = np.round(last_epoch, 3)
    return Aggregates(
        customer_id=np.asarray(ids, dtype=np.int64),
        orders=np.asarray(orders, dtype=np.float64),
        first_epoch=first_epoch,
        last_epoch=last_epoch,
        monetary=np.asarray([float(m) for m in money], dtype=np.float64),
    )


def aggregate_customers(customer_ids: Sequence[int], as_of: datetime) -> Aggregates:
    """Order aggregates of the given customers only (uses the customer/time index)."""
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(customer_ids), ID_CHUNK):
            chunk = customer_ids[start : start + ID_CHUNK]
            clause, params = _ids_clause(chunk)
            cursor.execute(_aggregate_select(clause), [as_of, *params])
            rows.extend(cursor.fetchall())
    rows.sort(key=lambda row: row[0])
    return _to_arrays(rows)


def aggregate_all_into_temp(as_of: datetime) -> None:
    """Aggregate every customer's orders into the temp table `scoring_agg` (one parallel GROUP BY)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scoring_agg")
        if _is_postgres():
            # Hash aggregation over the whole table; an index walk with the stock work_mem is ~4x slower.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"CREATE TEMP TABLE scoring_agg AS {_aggregate_select('')}", [as_of])


def fetch_temp_aggregates() -> Aggregates:
    select = "SELECT customer_id, orders, first_epoch, last_epoch, monetary FROM scoring_agg ORDER BY customer_id"
    with connection.cursor() as cursor:
        if not _is_postgres():
            cursor.execute(select)
            return _to_arrays(cursor.fetchall())
        # One COPY and one C-level parse instead of a Python tuple per customer.
        with cursor.cursor.copy(f"COPY ({select}) TO STDOUT") as copy:
            payload = b"".join(bytes(block) for block in copy)
    if not payload:
        return Aggregates.empty()
    values = np.fromstring(payload.replace(b"\t", b",").replace(b"\n", b","), sep=",").reshape(-1, 5)
    return Aggregates(
        customer_id=values[:, 0].astype(np.int64),
        orders=values[:, 1].copy(),
        first_epoch=values[:, 2].copy(),
        last_epoch=values[:, 3].copy(),
        monetary=values[:, 4].copy(),
    )


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
class Scored:
    customer_ids: Ints
    columns: list[rows.Column]

    def __len__(self) -> int:
        return int(self.customer_ids.size)


def _model_inputs(agg: Aggregates, as_of: datetime) -> tuple[Floats, Floats, Floats, Floats]:
    as_of_epoch = as_of.timestamp()
    x = agg.orders - 1.0
    t_x = (agg.last_epoch - agg.first_epoch) / WEEK
    T = np.maximum((as_of_epoch - agg.first_epoch) / WEEK, t_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(agg.orders > 0, agg.monetary / agg.orders, 0.0)
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
                gg = value_models.fit_gamma_gamma(agg.orders[chosen], m[chosen], initial=gg_start)
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
        spend = value_models.gamma_gamma_expected_value(state.gamma_gamma, agg.orders, m)
    else:
        spend = m
    return p_alive, purchases, purchases * spend


def score(
    customer_ids: Ints,
    agg: Aggregates,
    state: State,
    needs: dict[int, tuple[int, int, int]],
    tickets: dict[int, int],
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
    tiers = np.asarray(TIER_CATEGORIES, dtype=object)[tier_codes]
    x = agg.orders - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        usual_gap = np.where(x > 0, (agg.last_epoch - agg.first_epoch) / DAY / np.maximum(x, 1), np.nan)

    need_arr = _spread_counts(customer_ids, dict(needs), 3)
    ticket_arr = _spread_counts(customer_ids, {k: (v,) for k, v in tickets.items()}, 1)[:, 0]
    tier_full = spread(tiers, "", object)
    scores, reasons = priority.compute_priority(
        priority.PriorityInput(
            has_orders=has_orders,
            expected_value=spread(value, 0.0),
            value_scale=state.value_scale,
            value_tier=list(tier_full),
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
        rows.Column("text", spread(tier_codes, 0, np.int64), categories=TIER_CATEGORIES),
        rows.Column("int", need_arr[:, 0]),
        rows.Column("int", need_arr[:, 1]),
        rows.Column("int", ticket_arr),
        rows.Column("fixed", scores, decimals=2),
        rows.Column("text", reasons),
        rows.Column("text", np.full(n, computed_at.isoformat(), dtype=object)),
    ]
    return Scored(customer_ids=customer_ids, columns=columns)


def _spread_counts(customer_ids: Ints, counts: dict[int, tuple[int, ...]], width: int) -> Floats:
    """{customer_id: (counts…)} → an (n, width) array aligned with `customer_ids` (zeros elsewhere)."""
    out = np.zeros((customer_ids.size, width))
    if not counts:
        return out
    keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = np.asarray(list(counts.values()), dtype=np.float64).reshape(len(counts), width)
    where = np.searchsorted(customer_ids, keys)
    inside = (where < customer_ids.size) & (customer_ids[np.minimum(where, customer_ids.size - 1)] == keys)
    out[where[inside]] = values[inside]
    return out


# --- writing ------------------------------------------------------------------------------------


REBUILD_ROWS = 100_000


def _drop_secondary_indexes(cursor: Any, table: str) -> list[str]:
    """Drop the table's indexes that back no constraint; return the statements that recreate them."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [table],
    )
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def _drop_foreign_keys(cursor: Any, table: str) -> list[str]:
    """Drop the table's foreign keys; return the statements that add (and validate) them again."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in found]


def _write_bulk(cursor: Any, table: str, scored: Scored) -> None:
    """A big full run on PostgreSQL: binary COPY into an unindexed staging table, then one
    INSERT … SELECT into the truncated score table with its foreign key and secondary indexes
    dropped; both are rebuilt (and the key validated) once at the end."""
    rebuild = _drop_foreign_keys(cursor, table) + _drop_secondary_indexes(cursor, table)
    plan = rows.binary_plan(scored.columns, SCORE_COLUMNS, SCORE_TARGETS)
    cursor.execute("DROP TABLE IF EXISTS scoring_bin")
    cursor.execute("DROP TABLE IF EXISTS scoring_json")
    cursor.execute(plan.create_sql)
    with cursor.cursor.copy("COPY scoring_bin FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(plan.payload)
    if plan.json_payload:
        cursor.execute("CREATE TEMP TABLE scoring_json (rn bigint, j text)")
        with cursor.cursor.copy("COPY scoring_json FROM STDIN") as copy:
            copy.write(plan.json_payload)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(SCORE_COLUMNS)}) SELECT {plan.select_sql} FROM {plan.source_sql}",
        plan.params,
    )
    cursor.execute("DROP TABLE scoring_bin")
    cursor.execute("DROP TABLE IF EXISTS scoring_json")
    for definition in rebuild:
        cursor.execute(definition)


def write_scores(scored: Scored, *, replace_all: bool) -> None:
    """Write the rows. Incremental: merge through a staging table (upsert). Full (`replace_all`):
    replace the table's contents in the caller's transaction — TRUNCATE + COPY on PostgreSQL,
    which writes each row and index entry once instead of updating a million rows in place.
    Readers of the score table wait for the commit (a few seconds) rather than see a half-run.
    """
    table = CustomerScore._meta.db_table
    cols = ", ".join(SCORE_COLUMNS)
    placeholders = ", ".join(["%s"] * len(SCORE_COLUMNS))
    with connection.cursor() as cursor:
        if replace_all:
            if _is_postgres():
                # TRUNCATE (and CREATE INDEX below) refuse while deferred FK checks on the table are
                # pending in this transaction: check foreign keys as rows arrive during this step.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"TRUNCATE {table}")
            else:
                cursor.execute(f"DELETE FROM {table}")
            target = table
        else:
            cursor.execute("DROP TABLE IF EXISTS scoring_upd")
            cursor.execute(f"CREATE TEMP TABLE scoring_upd AS SELECT {cols} FROM {table} WHERE 1 = 0")
            target = "scoring_upd"
        if len(scored):
            if _is_postgres() and replace_all and len(scored) >= REBUILD_ROWS:
                _write_bulk(cursor, table, scored)
            elif _is_postgres():
                payload = rows.copy_text(scored.columns)
                # After TRUNCATE in this transaction, rows can be written already frozen.
                options = " WITH (FREEZE)" if replace_all else ""
                with cursor.cursor.copy(f"COPY {target} ({cols}) FROM STDIN{options}") as copy:
                    copy.write(payload)
            else:
                cursor.executemany(
                    f"INSERT INTO {target} ({cols}) VALUES ({placeholders})", rows.python_rows(scored.columns)
                )
        if replace_all and _is_postgres():
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        if not replace_all:
            updates = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS[1:])
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM scoring_upd WHERE true "
                f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"
            )
            cursor.execute("DROP TABLE scoring_upd")


# --- runs ---------------------------------------------------------------------------------------


def _noop(step: str, done: int, total: int) -> None:
    return None


def latest_run() -> ScoringRun | None:
    return ScoringRun.objects.filter(finished_at__isnull=False).order_by("-id").first()


def _ticket_counts(customer_ids: Sequence[int] | None) -> dict[int, int]:
    return priority.count_open_items("tickets", customer_ids)


def recompute_full(*, as_of: datetime | None = None, refit: bool = True, progress: Progress = _noop) -> ScoringRun:
    """Recompute every active customer's score; with `refit`, refresh cut points and model parameters."""
    as_of = as_of or timezone.now()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    previous = latest_run()
    with transaction.atomic():
        progress("aggregate", 0, 6)
        aggregate_all_into_temp(as_of)
        with connection.cursor() as cursor:
            # Merged (inactive) customers neither get a score nor shift the quintiles.
            cursor.execute(
                f"DELETE FROM scoring_agg WHERE customer_id IN "
                f"(SELECT id FROM {Customer._meta.db_table} WHERE NOT is_active)"
            )
        timings["aggregate"] = time.perf_counter() - clock
        agg = fetch_temp_aggregates()
        timings["fetch"] = time.perf_counter() - clock
        progress("cut points", 1, 6)
        if refit or previous is None:
            # The NTILE(5) cut points of `quintile_cuts`, computed on the fetched arrays (one sort
            # each in numpy instead of three window-function sorts in the database; tested equal).
            recency_cuts = ntile_cuts(np.floor((as_of.timestamp() - agg.last_epoch) / DAY))
            frequency_cuts = ntile_cuts(agg.orders)
            monetary_cuts = ntile_cuts(agg.monetary)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE scoring_agg")
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
        needs = need_counts(None)
        tickets = _ticket_counts(None)
        # Customers with orders are already the active ones (the aggregate dropped merged ones);
        # add active customers that only have open needs or tickets.
        others = sorted(
            ({c for c in needs if needs[c][0]} | {c for c, k in tickets.items() if k}) - set(agg.customer_id.tolist())
        )
        extra: list[int] = []
        for start in range(0, len(others), ID_CHUNK):
            extra.extend(
                Customer.objects.filter(pk__in=others[start : start + ID_CHUNK], is_active=True).values_list(
                    "id", flat=True
                )
            )
        ids = np.union1d(agg.customer_id, np.asarray(extra, dtype=np.int64))
        timings["needs"] = time.perf_counter() - clock
        progress("score", 4, 6)
        scored = score(ids, agg, state, needs, tickets, timezone.now(), basis)
        timings["score"] = time.perf_counter() - clock
        progress("write", 5, 6)
        write_scores(scored, replace_all=True)
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
    progress("done", 6, 6)
    return run


def recompute_customers(customer_ids: Sequence[int], *, as_of: datetime | None = None) -> int:
    """Rescore some customers against the latest full run's state. Returns how many were written."""
    run = latest_run()
    if run is None:
        return recompute_full(as_of=as_of).customers
    as_of = as_of or timezone.now()
    wanted = sorted({int(c) for c in customer_ids})
    if not wanted:
        return 0
    active: list[int] = []
    for start in range(0, len(wanted), ID_CHUNK):
        active.extend(
            Customer.objects.filter(pk__in=wanted[start : start + ID_CHUNK], is_active=True).values_list(
                "id", flat=True
            )
        )
    active.sort()
    state = State.from_run(run, as_of)
    with transaction.atomic():
        agg = aggregate_customers(active, as_of)
        needs = need_counts(active)
        tickets = _ticket_counts(active)
        signal = (
            set(agg.customer_id.tolist()) | {c for c, n in needs.items() if n[0]} | {c for c, k in tickets.items() if k}
        )
        ids = np.asarray(sorted(signal), dtype=np.int64)
        scored = score(ids, agg, state, needs, tickets, timezone.now())
        write_scores(scored, replace_all=False)
        gone = sorted(set(wanted) - signal)
        if gone:
            CustomerScore.objects.filter(customer_id__in=gone).delete()
    return int(ids.size)
