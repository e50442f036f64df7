"""Score rows as column arrays, encoded without a Python loop per row.

PostgreSQL gets one COPY text payload built with numpy string ufuncs; SQLite gets tuples for
`executemany`. Numbers are written as fixed-point text from integers (float→text conversion
is the slow part of naive encoders).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

TEXT = np.dtypes.StringDType()
NULL = "\\N"


@dataclass
class Column:
    """One column: kind is "int", "fixed" (with `decimals`), "text" or "timestamp" (epoch seconds)."""

    kind: str
    values: NDArray[Any]
    null: NDArray[np.bool_] | None = None
    decimals: int = 0
    # For kind "text": when given, `values` are integer codes into these categories.
    categories: Sequence[str] | None = None

    def text_values(self) -> NDArray[Any]:
        if self.categories is not None:
            result: NDArray[Any] = np.asarray(list(self.categories), dtype=object)[np.asarray(self.values)]
            return result
        return np.asarray(self.values)


def int_text(values: NDArray[Any]) -> NDArray[Any]:
    result: NDArray[Any] = np.asarray(values).astype(np.int64).astype(TEXT)
    return result


def fixed_text(values: NDArray[np.float64], decimals: int) -> NDArray[Any]:
    """Decimal text with exactly `decimals` places, e.g. 145.0 → "145.00" (NaN → "0.00")."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64))
    scale = 10**decimals
    scaled = np.round(np.abs(clean) * scale).astype(np.int64)
    text = (scaled // scale).astype(TEXT)
    if decimals:
        fraction = np.strings.zfill((scaled % scale).astype(TEXT), decimals)
        text = np.strings.add(np.strings.add(text, "."), fraction)
    negative = (clean < 0) & (scaled > 0)
    if negative.any():
        text = np.where(negative, np.strings.add("-", text), text).astype(TEXT)
    return text


def timestamp_text(epochs: NDArray[np.float64], *, postgres: bool) -> NDArray[Any]:
    micros = np.round(np.nan_to_num(epochs) * 1e6).astype(np.int64).astype("datetime64[us]")
    text = micros.astype(str).astype(TEXT)
    if postgres:
        return np.strings.add(text, "+00:00")
    result: NDArray[Any] = np.strings.replace(text, "T", " ")
    return result


def _as_text(column: Column, *, postgres: bool) -> NDArray[Any]:
    if column.kind == "int":
        text = int_text(np.where(column.null, 0, column.values) if column.null is not None else column.values)
    elif column.kind == "fixed":
        text = fixed_text(column.values, column.decimals)
    elif column.kind == "timestamp":
        text = timestamp_text(column.values, postgres=postgres)
    else:
        text = column.text_values().astype(TEXT)
    if column.null is not None and column.null.any():
        text = np.where(column.null, NULL, text).astype(TEXT)
    return text


def copy_text(columns: Sequence[Column]) -> str:
    """The COPY FROM STDIN (text format) payload of all rows."""
    if not columns or len(columns[0].values) == 0:
        return ""
    texts = [_as_text(column, postgres=True).tolist() for column in columns]
    return "".join(["\t".join(row) + "\n" for row in zip(*texts, strict=True)])


def python_rows(columns: Sequence[Column]) -> list[tuple[Any, ...]]:
    """Tuples for executemany (SQLite): None for NULL, floats rounded, timestamps as stored text."""
    lists: list[list[Any]] = []
    for column in columns:
        if column.kind == "int":
            values: list[Any] = np.asarray(column.values).astype(np.int64).tolist()
        elif column.kind == "fixed":
            values = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)), column.decimals).tolist()
        elif column.kind == "timestamp":
            values = timestamp_text(column.values, postgres=False).tolist()
        else:
            values = [str(v) for v in column.text_values().tolist()]
        if column.null is not None and column.null.any():
            values = [None if missing else v for v, missing in zip(values, column.null.tolist(), strict=True)]
        lists.append(values)
    return list(zip(*lists, strict=True))


# --- binary COPY into a staging table (the bulk path of a full run on PostgreSQL) ---------------

PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds
SENTINEL = np.iinfo(np.int64).min  # stands for NULL in the fixed-width part; NULLIF'd in SQL


@dataclass
class BinaryPlan:
    """The staging table, the binary COPY payload for it, and the SELECT that turns it into rows."""

    create_sql: str
    payload: bytes
    select_sql: str
    params: list[Any]
    json_payload: str
    source_sql: str


def binary_plan(columns: Sequence[Column], names: Sequence[str], targets: Sequence[str]) -> BinaryPlan:
    """Encode every column as a big-endian int64 — ints, fixed-point as scaled integers, timestamps
    as PostgreSQL microseconds, categorical or constant text as codes — so each row is one slot of a
    numpy structured array and the payload is a single `tobytes()`. The one jsonb column travels
    in a second, text COPY (`scoring_json`) joined on the row number. `targets` are the SQL types
    of the final columns ("int", "numeric", "float", "text", "timestamp", "jsonb"). The values
    are identical to the text path's: same rounding, same decimal digits.
    """
    n = len(columns[0].values)
    fixed_fields: list[NDArray[np.int64]] = [np.arange(n, dtype=np.int64)]
    staging_cols: list[str] = ["rn bigint"]
    selects: list[str] = []
    params: list[Any] = []
    json_payload = ""
    for i, (column, _name, target) in enumerate(zip(columns, names, targets, strict=True)):
        col = f"c{i}"
        if target == "jsonb":
            if json_payload:
                raise ValueError("binary_plan carries one jsonb column")
            texts = np.strings.add(np.strings.add(np.arange(n).astype(TEXT), "\t"), column.text_values().astype(TEXT))
            json_payload = "\n".join(texts.tolist()) + "\n"
            selects.append("j.j::jsonb")
            continue
        if column.kind == "text":
            if column.categories is not None:
                values = np.asarray(column.values).astype(np.int64)
                vocabulary = [str(v) for v in column.categories]
            else:
                raw = np.asarray(column.values)
                if n and (raw == raw[0]).all():
                    values, vocabulary = np.zeros(n, dtype=np.int64), [str(raw[0])]
                else:
                    unique, codes = np.unique(raw.astype(str), return_inverse=True)
                    values, vocabulary = codes.astype(np.int64), [str(v) for v in unique]
            params.append(vocabulary)
            expression = f"(%s::text[])[b.{col} + 1]" + ("::timestamptz" if target == "timestamp" else "")
        elif column.kind == "fixed":
            scale = 10**column.decimals
            values = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)) * scale).astype(np.int64)
            cast = "numeric" if target == "numeric" else "float8"
            expression = f"(b.{col}::{cast} / {scale})"
        elif column.kind == "timestamp":
            micros = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)) * 1e6).astype(np.int64)
            values = micros - PG_EPOCH_MICROS
            expression = f"b.{col}"
        else:
            values = np.asarray(column.values).astype(np.int64)
            expression = f"b.{col}"
        if column.null is not None:
            values = np.where(column.null, SENTINEL, values)
            if column.kind == "timestamp":  # int64 min is -infinity as a binary timestamptz
                expression = f"NULLIF(b.{col}, '-infinity'::timestamptz)"
            else:
                expression = f"CASE WHEN b.{col} = {SENTINEL} THEN NULL ELSE {expression} END"
        fixed_fields.append(values)
        staging_cols.append(f"{col} {'timestamptz' if column.kind == 'timestamp' else 'bigint'}")
        selects.append(expression)
    layout = [("n", ">i2")]
    for k in range(len(fixed_fields)):
        layout += [(f"l{k}", ">i4"), (f"v{k}", ">i8")]
    fixed = np.empty(n, dtype=np.dtype(layout))
    fixed["n"] = len(fixed_fields)
    for k, values in enumerate(fixed_fields):
        fixed[f"l{k}"] = 8
        fixed[f"v{k}"] = values
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    payload = header + fixed.tobytes() + (-1).to_bytes(2, "big", signed=True)
    create = f"CREATE TEMP TABLE scoring_bin ({', '.join(staging_cols)})"
    source = "scoring_bin b" + (" JOIN scoring_json j ON j.rn = b.rn" if json_payload else "")
    return BinaryPlan(create, payload, ", ".join(selects), params, json_payload, source)
