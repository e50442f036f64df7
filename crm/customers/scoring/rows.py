"""Score rows as column arrays, encoded without a Python loop per row.

PostgreSQL gets a binary COPY payload: rows are grouped by their NULL pattern and text values, so
within a group every row has the same byte layout and the group is one numpy structured array
(`tobytes()`); JSON text is right-aligned/space-padded to the group's widest value (whitespace
is insignificant in JSON, and jsonb drops it). SQLite gets tuples for `executemany`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

SPACE = ord(" ")


@dataclass
class Column:
    """One column of score rows.

    kind: "int"; "fixed" (rounded to `decimals`); "timestamp" (epoch seconds); "text" (with
    `categories`, `values` are integer codes into them); "json" (`values` is an (n, width) uint8
    matrix of space-padded JSON text, `lengths` the bytes each row uses).
    """

    kind: str
    values: NDArray[Any]
    null: NDArray[np.bool_] | None = None
    decimals: int = 0
    categories: Sequence[str] | None = None
    lengths: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, rows: NDArray[np.int64] | slice) -> Column:
        return Column(
            self.kind,
            self.values[rows],
            None if self.null is None else self.null[rows],
            self.decimals,
            self.categories,
            None if self.lengths is None else self.lengths[rows],
        )


# --- numbers as text, column-wise --------------------------------------------------------------


def scaled_ints(values: NDArray[Any], decimals: int) -> NDArray[np.int64]:
    """round(value × 10^decimals) as integers (NaN → 0): the exact digits stored for a fixed column."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64))
    return np.round(clean * 10**decimals).astype(np.int64)


def number_matrix(values: NDArray[Any], decimals: int) -> NDArray[np.uint8]:
    """Decimal text with exactly `decimals` places, right-aligned in a space-padded (n, width) byte
    matrix: 145.0 → b"  145.00". NaN → 0. The same digits as `format(round(v, decimals))`."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64))
    scale = 10**decimals
    scaled = np.round(np.abs(clean) * scale).astype(np.int64)
    negative = (clean < 0) & (scaled > 0)
    whole = scaled // scale
    digits = np.ones(whole.shape, dtype=np.int64)
    for power in range(1, 19):
        digits += whole >= 10**power
    width = int((digits + negative).max()) if whole.size else 1
    n = whole.size
    out = np.full((n, width + (decimals + 1 if decimals else 0)), SPACE, dtype=np.uint8)
    for position in range(width):  # counted from the right; a sign goes just left of the digits
        digit = 48 + (whole // 10**position) % 10
        sign = np.where(negative & (position == digits), ord("-"), SPACE)
        out[:, width - 1 - position] = np.where(position < digits, digit, sign)
    if decimals:
        fraction = scaled % scale
        out[:, width] = ord(".")
        for place in range(decimals):
            out[:, width + 1 + place] = 48 + (fraction // 10 ** (decimals - 1 - place)) % 10
    return out


def constant_matrix(text: str, n: int) -> NDArray[np.uint8]:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text.encode())))


def matrix_texts(matrix: NDArray[np.uint8], *, compact: bool = True) -> list[str]:
    """Rows of a byte matrix as strings; `compact` drops all spaces (JSON text has none of its own)."""
    if matrix.shape[0] == 0:
        return []
    width = max(matrix.shape[1], 1)
    raw = np.ascontiguousarray(matrix if matrix.shape[1] else np.full((matrix.shape[0], 1), SPACE, np.uint8))
    texts = raw.view(f"S{width}").ravel()
    if compact:
        texts = np.strings.replace(texts, b" ", b"")
    else:
        texts = np.strings.rstrip(texts, b" ")
    return [t.decode() for t in texts.tolist()]


# --- SQLite --------------------------------------------------------------------------------------


def timestamp_text(epochs: NDArray[np.float64]) -> NDArray[Any]:
    micros = np.round(np.nan_to_num(epochs) * 1e6).astype(np.int64).astype("datetime64[us]")
    result: NDArray[Any] = np.strings.replace(micros.astype(str), "T", " ")
    return result


def python_rows(columns: Sequence[Column]) -> list[tuple[Any, ...]]:
    """Tuples for executemany (SQLite): None for NULL, floats rounded, timestamps as stored text."""
    lists: list[list[Any]] = []
    for column in columns:
        if column.kind == "int":
            values: list[Any] = np.asarray(column.values).astype(np.int64).tolist()
        elif column.kind == "fixed":
            values = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)), column.decimals).tolist()
        elif column.kind == "timestamp":
            values = timestamp_text(column.values).tolist()
        elif column.kind == "json":
            values = matrix_texts(column.values)
        elif column.categories is not None:
            values = np.asarray(list(column.categories), dtype=object)[np.asarray(column.values)].tolist()
        else:
            values = [str(v) for v in np.asarray(column.values).tolist()]
        if column.null is not None and column.null.any():
            values = [None if missing else v for v, missing in zip(values, column.null.tolist(), strict=True)]
        lists.append(values)
    return list(zip(*lists, strict=True))


# --- PostgreSQL binary COPY ----------------------------------------------------------------------

PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
INT_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}
TEXT_TYPES = ("text", "varchar", "bpchar")
JSON_BUCKET = 16  # JSON text in a group is padded to the longest, at most this many bytes more


def _numeric_digits(scaled: NDArray[np.int64], decimals: int) -> NDArray[Any]:
    """PostgreSQL's binary numeric (ndigits, weight, sign, dscale, base-10000 digits) of
    scaled × 10^-decimals, as a fixed-width (n, 4 + groups) big-endian int16 matrix. Every row has
    as many digit groups as the largest value needs; numeric_recv strips leading and trailing zero
    groups, so the stored value equals the one parsed from text."""
    fraction_groups = -(-decimals // 4)
    magnitude = np.abs(scaled)
    whole, fraction = magnitude // 10**decimals, magnitude % 10**decimals
    fraction = fraction * 10 ** (4 * fraction_groups - decimals)
    largest = int(whole.max()) if whole.size else 0
    whole_groups = 1
    while largest >= 10_000**whole_groups:
        whole_groups += 1
    groups = whole_groups + fraction_groups
    out = np.empty((scaled.size, 4 + groups), dtype=">i2")
    out[:, 0] = groups
    out[:, 1] = whole_groups - 1
    out[:, 2] = np.where(scaled < 0, 0x4000, 0)
    out[:, 3] = decimals
    for k in range(whole_groups):
        out[:, 4 + k] = (whole // 10_000 ** (whole_groups - 1 - k)) % 10_000
    for k in range(fraction_groups):
        out[:, 4 + whole_groups + k] = (fraction // 10_000 ** (fraction_groups - 1 - k)) % 10_000
    return out


@dataclass
class _Field:
    """One column ready for the binary layout: fixed-width big-endian values, or variable bytes."""

    values: NDArray[Any] | None  # (n,) or (n, k) array of a fixed-width dtype
    null: NDArray[np.bool_] | None
    codes: NDArray[np.int64] | None = None  # text: category code per row
    words: list[bytes] | None = None  # text: bytes of each category
    lengths: NDArray[np.int64] | None = None  # json: bytes used per row of `values`
    prefix: bytes = b""  # jsonb: the format version byte


def _field(column: Column, pg_type: str) -> _Field:
    null = column.null if column.null is not None and column.null.any() else None
    if pg_type in INT_TYPES:
        source = np.asarray(column.values)
        if column.kind == "fixed":
            source = np.round(np.nan_to_num(source.astype(np.float64)), column.decimals)
        if null is not None:
            source = np.where(null, 0, source)
        return _Field(source.astype(np.int64).astype(INT_TYPES[pg_type]), null)
    if pg_type == "float8":
        scale = 10**column.decimals
        return _Field((scaled_ints(column.values, column.decimals) / scale).astype(">f8"), null)
    if pg_type == "numeric":
        return _Field(_numeric_digits(scaled_ints(column.values, column.decimals), column.decimals), null)
    if pg_type in ("timestamptz", "timestamp"):
        micros = np.round(np.nan_to_num(np.asarray(column.values, dtype=np.float64)) * 1e6).astype(np.int64)
        return _Field((micros - PG_EPOCH_MICROS).astype(">i8"), null)
    prefix = b"\x01" if pg_type == "jsonb" else b""
    if pg_type not in (*TEXT_TYPES, "jsonb"):
        raise ValueError(f"no binary encoding for column type {pg_type}")
    if column.kind == "json":
        assert column.lengths is not None
        return _Field(np.asarray(column.values, dtype=np.uint8), null, lengths=column.lengths, prefix=prefix)
    if column.categories is not None:
        codes = np.asarray(column.values).astype(np.int64)
        words = [str(c).encode() for c in column.categories]
    else:
        unique, inverse = np.unique(np.asarray(column.values).astype(str), return_inverse=True)
        codes, words = inverse.astype(np.int64).ravel(), [str(u).encode() for u in unique]
    return _Field(None, null, codes=codes, words=[prefix + w for w in words])


def binary_rows(columns: Sequence[Column], pg_types: Sequence[str]) -> list[NDArray[np.uint8]]:
    """The rows of a binary COPY (without BINARY_HEADER / BINARY_TRAILER), as a few byte blocks.

    Rows are grouped by NULL pattern and text value (JSON: by length, in JSON_BUCKET steps); in a
    group every row has the same layout, so a block is a (rows, row width) byte matrix filled one
    column slice per field: constants (field count, lengths, text) broadcast, values copied.
    """
    n = len(columns[0]) if columns else 0
    if n == 0:
        return []
    fields = [_field(column, pg_type) for column, pg_type in zip(columns, pg_types, strict=True)]
    key = np.zeros(n, dtype=np.int64)
    for f in fields:
        if f.null is not None:
            key = key * 2 + f.null
        if f.codes is not None:
            assert f.words is not None
            key = key * len(f.words) + f.codes
        if f.lengths is not None:  # JSON: rows of similar length together, so padding stays short
            buckets = (f.lengths + JSON_BUCKET - 1) // JSON_BUCKET
            key = key * (int(buckets.max()) + 1) + buckets
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], n]
    # Every field's bytes in group order: one gather per column, then each group is a slice.
    raw: list[NDArray[np.uint8] | None] = []
    for f in fields:
        if f.values is None:
            raw.append(None)
        else:
            ordered = np.ascontiguousarray(f.values[order])
            raw.append(ordered.view(np.uint8).reshape(n, -1))
    lengths_sorted = [None if f.lengths is None else f.lengths[order] for f in fields]
    blocks: list[NDArray[np.uint8]] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        first = int(order[start])
        constants: list[tuple[int, bytes]] = []  # (offset, bytes) written to every row of the group
        slices: list[tuple[int, NDArray[np.uint8]]] = []  # (offset, (rows, width) bytes)
        offset = 2
        constants.append((0, len(fields).to_bytes(2, "big")))
        for f, data, lengths in zip(fields, raw, lengths_sorted, strict=True):
            if f.null is not None and f.null[first]:
                constants.append((offset, (-1).to_bytes(4, "big", signed=True)))
                offset += 4
                continue
            if f.codes is not None:
                assert f.words is not None
                word = f.words[int(f.codes[first])]
                constants.append((offset, len(word).to_bytes(4, "big") + word))
                offset += 4 + len(word)
                continue
            assert data is not None
            width = data.shape[1] if lengths is None else int(lengths[start:end].max())
            constants.append((offset, (width + len(f.prefix)).to_bytes(4, "big") + f.prefix))
            offset += 4 + len(f.prefix)
            slices.append((offset, data[start:end, :width]))
            offset += width
        block = np.empty((end - start, offset), dtype=np.uint8)
        for at, constant in constants:
            block[:, at : at + len(constant)] = np.frombuffer(constant, dtype=np.uint8)
        for at, values in slices:
            block[:, at : at + values.shape[1]] = values
        blocks.append(block)
    return blocks
