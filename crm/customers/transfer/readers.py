"""Reading uploaded CSV and XLSX files as a stream of rows, whatever their encoding.

CSV files are decoded line by line: UTF-8 first (strict, so GBK bytes never pass as UTF-8),
then the detected or chosen encoding. A file whose lines mix UTF-8 and GB18030 (common when
two spreadsheets were pasted together) therefore still reads correctly. XLSX files are read
with openpyxl in read-only mode, so memory stays constant whatever the number of rows.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from crm.core.errors import ValidationFailed

# Encodings a user may choose explicitly (besides automatic detection).
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "big5", "utf-16")
_DETECT_BYTES = 256 * 1024
_BLOCK_BYTES = 1 << 20
_CHINESE_ALIASES = {"gb2312", "gbk", "cp936", "hz", "gb18030"}


class FileUnreadable(ValidationFailed):
    """The file cannot be read at all (not a CSV/XLSX, truncated, wrong encoding everywhere)."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based line/row number in the file, header is row 1
    values: list[Any]
    error: str = ""  # set when the line itself could not be decoded


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    raise FileUnreadable(
        _("Upload a .csv or .xlsx file."),
        errors={"file": [_("Unsupported file type %(suffix)s.") % {"suffix": suffix}]},
    )


def detect_encoding(path: Path) -> str:
    """The file's encoding: a BOM wins, then valid UTF-8, then GB18030, then charset-normalizer's guess."""
    with path.open("rb") as fh:
        sample = fh.read(_DETECT_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # The sample may end inside a multi-byte character: an incremental decoder tolerates that.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # Chinese spreadsheets saved as "CSV" are GBK/GB18030; statistical detection mistakes short
        # GBK samples for Korean or Japanese, so a clean GB18030 decode wins (Big5: choose explicitly).
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise FileUnreadable(
            _("The file is not text in any encoding we know."),
            errors={"encoding": [_("Choose the file's encoding (for example GB18030) and try again.")]},
        )
    name = best.encoding.lower().replace("_", "")
    # GB2312 and GBK are subsets of GB18030: decode with the superset so rare characters survive.
    if name in _CHINESE_ALIASES or name.startswith("gb"):
        return "gb18030"
    return best.encoding


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[str, str]]:
    """(line, error) per physical line; UTF-8 is tried first, then `encoding`.

    The file is read a megabyte at a time and a block of whole lines that is valid UTF-8 is decoded in
    one call (the common case); only a block with other bytes is decoded line by line. The result is the
    same either way: a newline byte never occurs inside a UTF-8 or GB18030 multi-byte character."""
    fallback = "gb18030" if encoding in {"utf-8", "utf-8-sig"} else encoding
    pending = b""
    first = True
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK_BYTES):
            if first:
                block = block.removeprefix(codecs.BOM_UTF8)
                first = False
            block = pending + block
            cut = block.rfind(b"\n") + 1
            pending = block[cut:]
            if cut:
                yield from _decoded_block(block[:cut], fallback)
        if pending:
            yield from _decoded_block(pending, fallback)


def _decoded_block(block: bytes, fallback: str) -> Iterator[tuple[str, str]]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Split at "\n" only (never at the other line breaks `splitlines` knows), endings kept.
        for line in io.StringIO(text, newline="\n"):
            yield line, ""
        return
    for raw in io.BytesIO(block):
        try:
            yield raw.decode("utf-8"), ""
            continue
        except UnicodeDecodeError:
            pass
        try:
            yield raw.decode(fallback), ""
        except (UnicodeDecodeError, LookupError):
            yield (
                raw.decode("utf-8", errors="replace"),
                _("This line is neither UTF-8 nor %(encoding)s text; save the file as UTF-8 and try again.")
                % {"encoding": fallback.upper()},
            )


def _csv_rows(path: Path, encoding: str) -> Iterator[Row]:
    if encoding == "utf-16":
        yield from _utf16_rows(path)
        return
    errors: dict[int, str] = {}
    line_no = 0

    def lines() -> Iterator[str]:
        nonlocal line_no
        for text, error in _decoded_lines(path, encoding):
            line_no += 1
            if error:
                errors[line_no] = error
            yield text

    with path.open("rb") as fh:
        first_line = fh.readline(65536).decode("utf-8", errors="ignore")
    # Comma, or the tab / semicolon some spreadsheet programs write: whichever the header uses most.
    delimiter = max((",", "\t", ";"), key=first_line.count)
    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        for values in reader:
            number = reader.line_num
            error = errors.pop(number, "")
            if not any(v.strip() for v in values) and not error:
                continue
            yield Row(number, values, error)
    except csv.Error as exc:
        raise FileUnreadable(
            _("The CSV file is malformed near line %(line)s: %(reason)s") % {"line": reader.line_num, "reason": exc},
            errors={"file": [_("Malformed CSV near line %(line)s.") % {"line": reader.line_num}]},
        ) from exc


def _utf16_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-16", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        try:
            for values in reader:
                if any(v.strip() for v in values):
                    yield Row(reader.line_num, values)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileUnreadable(
                _("The file is not valid UTF-16 text."), errors={"encoding": [_("Choose another encoding.")]}
            ) from exc


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Phone numbers and ids typed into Excel come back as floats: 13800138000.0.
        return str(int(value))
    if isinstance(value, (int, dt.datetime, dt.date)) or value is None:
        return value if not isinstance(value, int) or isinstance(value, bool) else str(value)
    return value if isinstance(value, str) else str(value)


def _xlsx_rows(path: Path) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise FileUnreadable(
            _("The Excel file cannot be opened: it is damaged, truncated or not an .xlsx file."),
            errors={"file": [_("Damaged or truncated Excel file.")]},
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = [_xlsx_cell(v) for v in cells]
            if not any(v not in (None, "") for v in values):
                continue
            yield Row(number, ["" if v is None else v for v in values])
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError) as exc:
        raise FileUnreadable(
            _("The Excel file is damaged or truncated; re-save it and upload again."),
            errors={"file": [_("Damaged or truncated Excel file.")]},
        ) from exc
    finally:
        workbook.close()


def open_rows(path: Path, *, name: str, encoding: str = "") -> tuple[list[str], Iterator[Row], str]:
    """(header, data rows, encoding used). Raises FileUnreadable with a clear message."""
    kind = file_format(name)
    if kind == "xlsx":
        used = ""
        rows = _xlsx_rows(path)
    else:
        if encoding and encoding not in ENCODINGS:
            raise FileUnreadable(
                _("Unknown encoding."),
                errors={"encoding": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ENCODINGS)}]},
            )
        used = encoding or detect_encoding(path)
        rows = _csv_rows(path, used)
    try:
        first = next(rows)
    except StopIteration:
        raise FileUnreadable(_("The file is empty."), errors={"file": [_("The file has no rows.")]}) from None
    if first.error:
        raise FileUnreadable(first.error, errors={"encoding": [first.error]})
    header = [str(v or "").strip().lstrip("\ufeff") for v in first.values]
    return header, rows, used


def count_rows(path: Path, *, name: str) -> int | None:
    """Data rows in the file (cheap for CSV: counts lines; XLSX: the sheet's declared dimension)."""
    if file_format(name) == "csv":
        with path.open("rb") as fh:
            return max(sum(1 for _ in fh) - 1, 0)
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            max_row = workbook.worksheets[0].max_row
        finally:
            workbook.close()
        return max(int(max_row) - 1, 0) if max_row else None
    except Exception:  # noqa: BLE001 — the real read reports the damage clearly; a count is only a hint
        return None
