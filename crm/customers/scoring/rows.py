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
        text = np.asarray(column.values).astype(TEXT)
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
            values = [str(v) for v in np.asarray(column.values).tolist()]
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


def binary_plan(columns: Sequence[Column], names: Sequence[str], targets: Sequence[str]) -> BinaryPlan:
    """Encode every column as a big-endian int64 (ints, fixed-point as scaled integers, timestamps
    as PostgreSQL microseconds, low-cardinality text as codes) except the last text column, which
    travels as the one variable-length field. `targets` are the SQL types of the final columns
    ("int", "numeric", "float", "text", "timestamp", "jsonb"). The row values are identical to
    the text path's: same rounding, same decimal digits.
    """
    n = len(columns[0].values)
    fixed_fields: list[NDArray[np.int64]] = []
    selects: list[str] = []
    params: list[Any] = []
    staging_cols: list[str] = []
    variable: NDArray[Any] | None = None
    variable_col = ""
    for i, (column, _name, target) in enumerate(zip(columns, names, targets, strict=True)):
        col = f"c{i}"
        if target == "jsonb":
            if variable is not None:
                raise ValueError("binary_plan carries one variable-length (jsonb) column")
            variable = np.asarray(column.values).astype(TEXT)
            variable_col = col
            selects.append(f"{col}::jsonb")
            continue
        if column.kind == "text":
            vocabulary, codes = np.unique(np.asarray(column.values).astype(str), return_inverse=True)
            values = codes.astype(np.int64)
            params.append([str(v) for v in vocabulary])
            expression = f"(%s::text[])[{col} + 1]" + ("::timestamptz" if target == "timestamp" else "")
        elif column.kind == "fixed":
            scale = 10**column.decimals
            values = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)) * scale).astype(np.int64)
            cast = "numeric" if target == "numeric" else "float8"
            expression = f"({col}::{cast} / {scale})"
        elif column.kind == "timestamp":
            micros = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)) * 1e6).astype(np.int64)
            values = micros - PG_EPOCH_MICROS
            expression = col
        else:
            values = np.asarray(column.values).astype(np.int64)
            expression = col
        if column.null is not None:
            values = np.where(column.null, SENTINEL, values)
            if column.kind == "timestamp":  # int64 min is -infinity as a binary timestamptz
                expression = f"NULLIF({col}, '-infinity'::timestamptz)"
            else:
                expression = f"CASE WHEN {col} = {SENTINEL} THEN NULL ELSE {expression} END"
        fixed_fields.append(values)
        staging_cols.append(f"{col} {'timestamptz' if column.kind == 'timestamp' else 'bigint'}")
        selects.append(expression)
    nfields = len(fixed_fields) + (1 if variable is not None else 0)
    layout = [("n", ">i2")]
    for k in range(len(fixed_fields)):
        layout += [(f"l{k}", ">i4"), (f"v{k}", ">i8")]
    fixed = np.empty(n, dtype=np.dtype(layout))
    fixed["n"] = nfields
    for k, values in enumerate(fixed_fields):
        fixed[f"l{k}"] = 8
        fixed[f"v{k}"] = values
    width = fixed.dtype.itemsize
    fixed_bytes = fixed.tobytes()
    parts: list[bytes] = [b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")]
    if variable is None:
        parts.append(fixed_bytes)
    else:
        texts = [t.encode("utf-8") for t in variable.tolist()]
        lengths = np.fromiter((len(t) for t in texts), dtype=">i4", count=n).tobytes()
        rows: list[bytes] = [b""] * (3 * n)
        rows[0::3] = [fixed_bytes[i * width : (i + 1) * width] for i in range(n)]
        rows[1::3] = [lengths[i * 4 : i * 4 + 4] for i in range(n)]
        rows[2::3] = texts
        parts.append(b"".join(rows))
    parts.append((-1).to_bytes(2, "big", signed=True))
    if variable is not None:
        staging_cols.append(f"{variable_col} text")
    create = f"CREATE TEMP TABLE scoring_bin ({', '.join(staging_cols)})"
    return BinaryPlan(create, b"".join(parts), ", ".join(selects), params)
