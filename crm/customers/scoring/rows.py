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
