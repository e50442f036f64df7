"""The import engine: stream rows, clean them in batches, write each batch in bulk, report every bad row.

Memory stays constant: rows are read one at a time, written in batches, and bad rows go to an
error file (JSON lines) next to the upload; only the first errors are kept on the job row.
The caller wraps the whole run in one transaction, so a failed or cancelled run leaves nothing.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import gc
import json
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core import crypto
from crm.core.custom_fields import coerce_value
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.core.money import clean_amount, clean_currency
from crm.customers import validation
from crm.customers.models import Contact, Customer, Order, OrderLine, Product, Tag
from crm.customers.transfer import cleaning
from crm.customers.transfer.bulk import (
    NULL_TEXT,
    Table,
    TextArray,
    copy_text,
    insert_ignore,
    is_postgres,
    now,
    rows_in,
    update_rows,
)
from crm.customers.transfer.mapping import CUSTOM_PREFIX
from crm.customers.transfer.readers import Row
from crm.identity.models import User

ERRORS_KEPT_ON_JOB = 200
PROGRESS_EVERY_SECONDS = 0.5
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_tuning_lock = threading.Lock()
_tuning_users = 0
_tuning_saved: tuple[tuple[int, ...], float] = ((), 0.0)
SWITCH_INTERVAL = 0.0005


@contextlib.contextmanager
def bulk_runtime() -> Iterator[None]:
    """Garbage collection and thread switching tuned while imports run in this process.

    * Cyclic collection: with the default thresholds an order import spent ~7 µs per row in
      collections, most of it in full ones walking every object of the process (Django, the app) while
      batches were alive. Objects alive at the start are frozen (left out of collections) and young
      collections run every 50,000 allocations instead of 700. Rows make no reference cycles, so
      nothing waits longer to be freed than before.
    * Thread switching: each time a database call of the writing thread returns (several socket waits
      per look-up or COPY), it waits for the cleaning thread to hand over the GIL — up to the 5 ms
      switch interval each time, 50 ms per batch of look-ups as measured. 0.5 ms here.

    The first import of a process to start changes both and the last to finish restores them.
    """
    global _tuning_users, _tuning_saved
    with _tuning_lock:
        if _tuning_users == 0:
            _tuning_saved = (gc.get_threshold(), sys.getswitchinterval())
            gc.freeze()
            gc.set_threshold(max(_tuning_saved[0][0], 50_000), *_tuning_saved[0][1:])
            sys.setswitchinterval(min(_tuning_saved[1], SWITCH_INTERVAL))
        _tuning_users += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0:
                gc.set_threshold(*_tuning_saved[0])
                gc.unfreeze()
                sys.setswitchinterval(_tuning_saved[1])


class Cancelled(Exception):
    """The user asked to stop; the caller rolls the whole run back."""


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class Outcome:
    total: int = 0
    created: int = 0
    updated: int = 0
    error_rows: int = 0
    first_errors: list[dict[str, Any]] = field(default_factory=list)
    # Lowest and highest id created: enough to find them again, in constant memory.
    created_range: list[int] = field(default_factory=list)
    touched_customer_ids: set[int] = field(default_factory=set)


class ErrorSink:
    """Every bad row goes to a JSON-lines file; the first few are also kept in memory for the job row.

    A batch's errors come from two places — cleaning (reading thread) and the database checks (writing
    thread) — so they are held until the batch ends and written in row order: the file and the job list
    rows as they stand in the file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh = path.open("w", encoding="utf-8") if path is not None else None
        self.first: list[dict[str, Any]] = []
        self.rows: set[int] = set()
        self.count_rows = 0
        self._pending: list[RowError] = []

    def add(self, error: RowError) -> None:
        if error.row not in self.rows:
            self.count_rows += 1
            # Only the current batch's row numbers are needed to tell "already counted" apart.
            self.rows.add(error.row)
        self._pending.append(error)

    def end_batch(self) -> None:
        self._pending.sort(key=lambda error: error.row)  # stable: one row's errors keep their order
        for error in self._pending:
            item = error.as_dict()
            if len(self.first) < ERRORS_KEPT_ON_JOB:
                self.first.append(item)
            if self._fh is not None:
                self._fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        self._pending.clear()
        self.rows.clear()

    def close(self) -> None:
        self.end_batch()
        if self._fh is not None:
            self._fh.close()


@dataclass
class Context:
    kind: str
    mode: str
    upsert_by: str
    columns: dict[int, str]
    actor: Any
    job_id: int | None
    custom: dict[str, CustomFieldDefinition]
    check_cancel: Callable[[], bool] = lambda: False
    report_progress: Callable[[int], None] = lambda processed: None


CleanRow = tuple[int, dict[str, Any]]
_QUEUED_BATCHES = 2


@dataclass
class Batch:
    """Rows cleaned by the reading thread: the good ones, the errors of the bad ones, rows read."""

    rows: list[CleanRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    seen: int = 0
    last: bool = False
    # PostgreSQL: look-up keys as array literals, rendered by the cleaning thread (`render_batch`).
    keys: dict[str, TextArray] = field(default_factory=dict)


def _text(limit: int) -> Callable[[Any], str]:
    return lambda value: cleaning.clean_text(value, max_length=limit)


def _optional_text(limit: int) -> Callable[[Any], str | None]:
    return lambda value: cleaning.clean_text(value, max_length=limit) or None


def _choice(fn: Callable[[Any, str], str], default: str) -> Callable[[Any], str]:
    return lambda value: fn(value, default)


class BaseImporter(abc.ABC):
    batch_size = 2000

    def __init__(self, ctx: Context, sink: ErrorSink, outcome: Outcome) -> None:
        self.ctx = ctx
        self.sink = sink
        self.outcome = outcome
        self.blocked = False  # all-or-nothing after the first error: keep checking, stop writing
        # PostgreSQL: the cleaning thread renders each good row's COPY text and the batch's look-up keys,
        # so that the writing thread, the bottleneck, only adds ids and references and waits for COPY.
        self.pre_render = is_postgres()
        self.keys: dict[str, TextArray] = {}
        # Every row has the same columns: whether custom fields are mapped is known once.
        self.has_custom = any(key.startswith(CUSTOM_PREFIX) for key in ctx.columns.values())

    # -- per row ------------------------------------------------------------------------------
    def raw_values(self, row: Row) -> dict[str, Any]:
        values: dict[str, Any] = {}
        cells = row.values
        for index, key in self.ctx.columns.items():
            value = cells[index] if index < len(cells) else ""
            if isinstance(value, str):
                value = value.strip()
                # Undo the apostrophe our exports put before text that looks like a formula.
                if value[:1] == "'" and value[1:2] in _FORMULA_START:
                    value = value[1:]
            values[key] = value
        return values

    @abc.abstractmethod
    def clean(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        """The row's cleaned values; field errors go into `errors` (every importer defines it)."""

    def cleaners(self) -> dict[str, tuple[str, Callable[[Any], Any]]]:
        return {}

    def apply_cleaners(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        if not hasattr(self, "_cleaners"):
            self._cleaners = self.cleaners()
        c: dict[str, Any] = {}
        for key, value in raw.items():
            found = self._cleaners.get(key)
            if found is None:
                continue
            target, fn = found
            try:
                c[target] = fn(value)
            except ValueError as exc:
                errors[key] = str(exc)
        return c

    def clean_field(self, errors: dict[str, str], name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ValueError as exc:
            errors[name] = str(exc)
            return None

    def clean_custom(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        custom: dict[str, Any] = {}
        for key, value in raw.items():
            if not key.startswith(CUSTOM_PREFIX):
                continue
            definition = self.ctx.custom[key[len(CUSTOM_PREFIX) :]]
            if isinstance(value, (dt.datetime, dt.date)):
                value = value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
            try:
                coerced = coerce_value(definition, value)
            except ValueError as exc:
                errors[key] = str(exc)
                continue
            if coerced is not None:
                custom[definition.key] = coerced
        return custom

    # -- per batch ----------------------------------------------------------------------------
    @abc.abstractmethod
    def write(self, batch: list[CleanRow]) -> None:
        """Write one batch of clean rows (bulk paths per database)."""

    def fail(self, row: int, field_name: str, message: str) -> None:
        self.sink.add(RowError(row, field_name, message))
        if self.ctx.mode == "all_or_nothing":
            self.blocked = True

    def flush(self, batch: list[CleanRow]) -> None:
        if batch:
            # Checks run even once an all-or-nothing import is doomed, so every bad row is reported.
            good = self.prepare(batch)
            if good and not self.blocked:
                self.write_safely(good)
        self.sink.end_batch()

    def prepare(self, batch: list[CleanRow]) -> list[CleanRow]:
        """Checks that need the database (existing keys, references): drop failing rows, report them."""
        return batch

    def write_safely(self, batch: list[CleanRow]) -> None:
        try:
            with transaction.atomic():
                self.write(batch)
        except IntegrityError:
            # A constraint the checks above could not foresee: find the offending rows one by one.
            for item in batch:
                try:
                    with transaction.atomic():
                        self.write([item])
                except IntegrityError as exc:
                    self.fail(item[0], "", _("The database refused this row: %(reason)s") % {"reason": exc})

    def run(self, rows: Iterator[Row]) -> Outcome:
        with bulk_runtime():
            return self._run(rows)

    def _run(self, rows: Iterator[Row]) -> Outcome:
        last_report = time.monotonic()
        # Closed explicitly, so that a cancel or a database error stops the reading thread at once.
        with contextlib.closing(self.batches(rows)) as batches:
            for batch in batches:
                self.outcome.total += batch.seen
                for error in batch.errors:
                    self.sink.add(error)
                if batch.errors and self.ctx.mode == "all_or_nothing":
                    self.blocked = True
                self.keys = batch.keys
                self.flush(batch.rows)
                if batch.last:
                    break
                if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                    last_report = time.monotonic()
                    if self.ctx.check_cancel():
                        raise Cancelled
                    self.ctx.report_progress(self.outcome.total)
        if self.ctx.check_cancel():
            raise Cancelled
        self.outcome.error_rows = self.sink.count_rows
        self.outcome.first_errors = self.sink.first
        self.ctx.report_progress(self.outcome.total)
        return self.outcome

    def batches(self, rows: Iterator[Row]) -> Generator[Batch]:
        """Cleaned batches, read and cleaned in a second thread while this one writes the previous batch.

        Reading, decoding, validation, blind indexes and encryption need no database; while this thread
        waits for PostgreSQL (which runs on another core) the next batch is being prepared. At most
        `_QUEUED_BATCHES` batches wait, so memory stays constant. Only this thread touches the database
        connection, the error sink and the outcome.
        """
        queued: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=_QUEUED_BATCHES)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce,
            args=(rows, queued, stop, translation.get_language(), timezone.get_current_timezone()),
            name=f"import-{self.ctx.job_id or 'inline'}-clean",
            daemon=True,
        )
        producer.start()
        try:
            while True:
                item = queued.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.last:
                    return
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    queued.get(timeout=0.05)
            producer.join()

    def _produce(
        self,
        rows: Iterator[Row],
        queued: queue.Queue[Batch | BaseException],
        stop: threading.Event,
        language: str | None,
        zone: dt.tzinfo,
    ) -> None:
        def hand_over(item: Batch | BaseException) -> bool:
            while not stop.is_set():
                try:
                    queued.put(item, timeout=0.1)
                except queue.Full:
                    continue
                return True
            return False

        try:
            with translation.override(language), timezone.override(zone):
                batch = Batch()
                size = self.batch_size
                for row in rows:
                    batch.seen += 1
                    if row.error:
                        batch.errors.append(RowError(row.number, "", row.error))
                    else:
                        errors: dict[str, str] = {}
                        cleaned = self.clean(self.raw_values(row), errors)
                        if errors:
                            batch.errors.extend(RowError(row.number, name, message) for name, message in errors.items())
                        else:
                            batch.rows.append((row.number, cleaned))
                    if (len(batch.rows) >= size or len(batch.errors) >= size) and self.can_cut(batch.rows):
                        if self.pre_render:
                            self.render_batch(batch)
                        if not hand_over(batch):
                            return
                        batch = Batch()
                batch.last = True
                if self.pre_render:
                    self.render_batch(batch)
                hand_over(batch)
        except BaseException as exc:  # noqa: BLE001 — re-raised in the writer thread, which reports it
            hand_over(exc)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def can_cut(self, batch: list[CleanRow]) -> bool:
        return True

    def render_batch(self, batch: Batch) -> None:
        """PostgreSQL, in the cleaning thread: what the writer will need that no database read decides —
        each row's COPY text under the private key `_copy`, the look-up keys as array literals. No database
        access here (this thread has no connection of the import's transaction). Importers without it
        (contacts) render in the writing thread."""
        return

    def timeline(self, customer_ids: list[int], kind: str, payload: dict[str, Any]) -> None:
        """One timeline row per customer, written in bulk (the same shape `record_event` writes)."""
        if not customer_ids:
            return
        table = Table(TimelineEvent)
        actor_id = self.ctx.actor.pk if getattr(self.ctx.actor, "is_authenticated", False) else None
        event = {
            "kind": kind,
            "occurred_at": now(),
            "actor_id": actor_id,
            "subject": payload.get("key", kind),
            "payload": payload,
            "object_type": "customers.importjob",
            "object_id": str(self.ctx.job_id or ""),
        }
        if self.pre_render:
            # Every row is the same but for the customer: rendered once.
            renderer = table.renderer(skip=("id",), lead=("customer_id",))
            text = renderer.render(event)
            table.copy_text(renderer.columns, (f"{cid}\t{text}" for cid in customer_ids))
            return
        table.insert({"customer_id": cid, **event} for cid in customer_ids)


# --- customers -------------------------------------------------------------------------------


class CustomerImporter(BaseImporter):
    batch_size = 5000  # fewer round trips per row; a batch of rows is a few MB of Python objects

    def __init__(self, ctx: Context, sink: ErrorSink, outcome: Outcome) -> None:
        super().__init__(ctx, sink, outcome)
        self.table = Table(Customer)
        self.tag_ids: dict[str, int] = {}
        # Owners are named by user name; the users are read once here, because rows are cleaned in a
        # thread that does not touch the database (the user table is small, whatever the file size).
        self.owner_ids: dict[str, int] = (
            dict(User.objects.filter(is_active=True).values_list("username", "pk"))
            if "owner" in ctx.columns.values()
            else {}
        )
        self.encrypt = crypto.keyring().bulk_encrypter()
        self.today = timezone.localdate()
        self._copy_columns = self.table.renderer(lead=("id",)).columns  # the order of `render_batch`'s text

    def past_date(self, value: Any) -> dt.date | None:
        return cleaning.clean_past_date(value, self.today)

    def owner_id(self, username: Any) -> int | None:
        name = str(username or "").strip()
        if not name:
            return None
        found = self.owner_ids.get(name)
        if found is None:
            raise ValueError(_("No active user with the user name %(name)s.") % {"name": name})
        return found

    def cleaners(self) -> dict[str, tuple[str, Callable[[Any], Any]]]:
        """import field -> (attribute it fills, cleaner raising ValueError)."""
        return {
            "name": ("name", validation.clean_name),
            "email": ("email", cleaning.clean_email),
            "phone": ("phone", cleaning.clean_phone),
            "gender": ("gender", validation.clean_gender),
            "birth_date": ("birth_date", self.past_date),
            "company_name": ("company_name", _text(200)),
            "industry": ("industry", _text(100)),
            "source": ("source", _text(100)),
            "region": ("region", _text(100)),
            "city": ("city", _text(100)),
            "address": ("address", _text(500)),
            "id_number": ("id_number", _text(100)),
            "external_id": ("external_id", _optional_text(100)),
            "kind": ("kind", _choice(cleaning.clean_kind, "person")),
            "lifecycle_stage": ("lifecycle_stage", _choice(cleaning.clean_stage, "prospect")),
            "country": ("country", cleaning.clean_country),
            "tags": ("tags", cleaning.split_tags),
            "owner": ("owner_id", self.owner_id),
            "email_opt_in": ("email_opt_in", cleaning.clean_bool),
            "sms_opt_in": ("sms_opt_in", cleaning.clean_bool),
        }

    def clean(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        c = self.apply_cleaners(raw, errors)
        if self.has_custom:
            c["custom"] = self.clean_custom(raw, errors)
        key = self.ctx.upsert_by
        if key in {"email", "phone", "external_id"} and not c.get(key) and key not in errors:
            errors[key] = _("This field identifies the record to update: it cannot be empty.")
        if errors:
            return c
        # Blind indexes and encryption here, in the cleaning thread: the writer only moves values.
        encrypt = self.encrypt
        if "email" in c:
            email = c["email"]
            c["email_bidx"] = cleaning.email_bidx(email) if email else ""
            if email:
                c["email"] = encrypt(email)
        if "phone" in c:
            phone = c["phone"]
            c["phone_bidx"] = cleaning.phone_bidx(phone) if phone else ""
            if phone:
                c["phone"] = encrypt(phone)
        if "id_number" in c:
            number = c["id_number"]
            c["id_number_bidx"] = cleaning.identifier_bidx(number) if number else ""
            if number:
                c["id_number"] = encrypt(number)
        if c.get("address"):
            c["address"] = encrypt(c["address"])
        return c

    def _key_of(self, c: dict[str, Any]) -> str:
        by = self.ctx.upsert_by
        if by == "email":
            return str(c.get("email_bidx") or "")
        if by == "phone":
            return str(c.get("phone_bidx") or "")
        return str(c.get("external_id") or "")

    def render_batch(self, batch: Batch) -> None:
        moment = now()
        renderer = self.table.renderer(lead=("id",))
        for _number, c in batch.rows:
            row = {k: v for k, v in c.items() if k != "tags"}
            row.setdefault("custom", {})
            row["created_at"] = row["updated_at"] = moment
            c["_copy"] = renderer.render(row)
        batch.keys["external_id"] = TextArray(c["external_id"] for _n, c in batch.rows if c.get("external_id"))
        if self.ctx.upsert_by in {"email", "phone"}:
            column = f"{self.ctx.upsert_by}_bidx"
            batch.keys[column] = TextArray(c[column] for _n, c in batch.rows if c.get(column))

    def prepare(self, batch: list[CleanRow]) -> list[CleanRow]:
        external = self.keys.get("external_id") or {c["external_id"] for _n, c in batch if c.get("external_id")}
        existing_external = dict(rows_in(Customer, "external_id", ("external_id", "pk"), external)) if external else {}
        self.existing: dict[str, int] = {}
        by = self.ctx.upsert_by
        if by == "external_id":
            self.existing = {str(k): v for k, v in existing_external.items()}
        elif by in {"email", "phone"}:
            column = f"{by}_bidx"
            keys = self.keys.get(column) or {c[column] for _n, c in batch if c.get(column)}
            for key, pk in rows_in(Customer, column, (column, "pk"), keys, is_active=True):
                self.existing.setdefault(key, pk)
        good: list[CleanRow] = []
        seen_external: dict[str, int] = {}
        seen_keys: dict[str, int] = {}
        for number, c in batch:
            ext = c.get("external_id")
            if ext and by != "external_id" and ext in existing_external:
                self.fail(number, "external_id", _("A customer with this external id already exists."))
                continue
            if ext:
                if ext in seen_external and by != "external_id":
                    self.fail(
                        number,
                        "external_id",
                        _("The same external id is also on row %(row)s.") % {"row": seen_external[ext]},
                    )
                    continue
                seen_external.setdefault(ext, number)
            if by:
                key = self._key_of(c)
                if key in seen_keys:
                    # The same record twice in one batch: later rows update what earlier rows wrote.
                    good.append((number, c))
                    continue
                seen_keys[key] = number
            good.append((number, c))
        return good

    def write(self, batch: list[CleanRow]) -> None:
        inserts: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        tag_links: list[tuple[int, list[str]]] = []
        moment = now()
        new_keys: dict[str, int] = {}
        pending: list[tuple[dict[str, Any], str]] = []
        for _number, c in batch:
            key = self._key_of(c) if self.ctx.upsert_by else ""
            target = self.existing.get(key) or new_keys.get(key) if key else None
            if target is None:
                pending.append((c, key))
                if key:
                    new_keys[key] = -1  # placeholder: id assigned below
            else:
                updates.append((target, c))
        ids = self.table.allocate_ids(len(pending))
        rendered: list[str] = []  # PostgreSQL: COPY text from the cleaning thread, the id put in front
        for (c, key), pk in zip(pending, ids, strict=True):
            if key:
                new_keys[key] = pk
            text = c.get("_copy")
            if text is not None:
                rendered.append(f"{pk}\t{text}")
            else:
                row = {k: v for k, v in c.items() if k != "tags"}
                row["id"] = pk
                row.setdefault("custom", {})
                row["created_at"] = row["updated_at"] = moment
                inserts.append(row)
            if c.get("tags"):
                tag_links.append((pk, c["tags"]))
        # Rows of this batch that update a record created earlier in the same batch.
        resolved_updates: list[tuple[int, dict[str, Any]]] = []
        custom_merges: list[tuple[int, dict[str, Any]]] = []
        for target, c in updates:
            pk = new_keys.get(self._key_of(c), target) if target == -1 else target
            values: dict[str, Any] = {}
            for k, v in c.items():
                if k in {"tags", "_copy"} or v in (None, "") or (k.endswith("_bidx") and not v):
                    continue
                values[k] = v
            if "custom" in values:
                values.pop("custom")  # merged below so existing custom values are kept
            values["updated_at"] = moment
            resolved_updates.append((pk, values))
            if c.get("tags"):
                tag_links.append((pk, c["tags"]))
            if c.get("custom"):
                custom_merges.append((pk, c["custom"]))
        self.table.insert(inserts)
        if rendered:
            self.table.copy_text(self._copy_columns, rendered)
        if resolved_updates:
            update_rows(self.table.name, resolved_updates, json_columns=())
        # After the inserts: a row may update a record that an earlier row of this batch created.
        for pk, values in custom_merges:
            self._merge_custom(pk, values)
        self._link_tags(tag_links)
        created = [pk for (_c, _key), pk in zip(pending, ids, strict=True)]
        updated_ids = sorted({pk for pk, _v in resolved_updates} - set(created))
        self.outcome.created += len(created)
        self.outcome.updated += len(updated_ids)
        if created:
            low, high = min(created), max(created)
            self.outcome.created_range = (
                [min(low, self.outcome.created_range[0]), max(high, self.outcome.created_range[1])]
                if self.outcome.created_range
                else [low, high]
            )
        self.outcome.touched_customer_ids.update(updated_ids)
        self.timeline(created, "import.created", {"key": "created by import", "job_id": self.ctx.job_id})
        self.timeline(updated_ids, "customer.updated", {"key": "updated by import", "job_id": self.ctx.job_id})

    def _merge_custom(self, pk: int, values: dict[str, Any]) -> None:
        current = Customer.objects.filter(pk=pk).values_list("custom", flat=True).first() or {}
        Customer.objects.filter(pk=pk).update(custom={**current, **values})

    def _link_tags(self, links: list[tuple[int, list[str]]]) -> None:
        if not links:
            return
        names = {name for _pk, tags in links for name in tags} - set(self.tag_ids)
        if names:
            self.tag_ids.update(dict(Tag.objects.filter(name__in=names).values_list("name", "pk")))
            missing = names - set(self.tag_ids)
            if missing:
                Tag.objects.bulk_create([Tag(name=n) for n in sorted(missing)], ignore_conflicts=True)
                self.tag_ids.update(dict(Tag.objects.filter(name__in=missing).values_list("name", "pk")))
        through = Customer.tags.through
        insert_ignore(
            through._meta.db_table,
            ["customer_id", "tag_id"],
            [(pk, self.tag_ids[name]) for pk, tags in links for name in tags],
        )


# --- contacts --------------------------------------------------------------------------------


def _customer_lookup(batch: list[CleanRow], rendered: dict[str, TextArray] | None = None) -> dict[tuple[str, str], int]:
    """(key kind, key) -> customer id for the customer references in a batch, in 3 queries at most.

    `rendered`: the same keys already rendered by the cleaning thread (`_customer_keys`)."""
    found: dict[tuple[str, str], int] = {}
    ext = rendered["customer_external_id"] if rendered else _reference_keys(batch, "customer_external_id")
    if ext:
        for key, pk in rows_in(Customer, "external_id", ("external_id", "pk"), ext):
            found[("external_id", str(key))] = pk
    for kind in ("email", "phone"):
        name = f"customer_{kind}_bidx"
        keys = rendered[name] if rendered else _reference_keys(batch, name)
        if keys:
            for key, pk in rows_in(Customer, f"{kind}_bidx", (f"{kind}_bidx", "pk"), keys, is_active=True):
                found.setdefault((kind, key), pk)
    return found


def _reference_keys(batch: list[CleanRow], name: str) -> set[str]:
    return {c[name] for _n, c in batch if c.get(name)}


def _customer_keys(batch: Batch) -> None:
    """Cleaning thread: the batch's customer references as array literals for `_customer_lookup`."""
    for name in ("customer_external_id", "customer_email_bidx", "customer_phone_bidx"):
        batch.keys[name] = TextArray(_reference_keys(batch.rows, name))


def _resolve_customer(c: dict[str, Any], found: dict[tuple[str, str], int]) -> int | None:
    if c.get("customer_external_id"):
        return found.get(("external_id", c["customer_external_id"]))
    if c.get("customer_email_bidx"):
        return found.get(("email", c["customer_email_bidx"]))
    if c.get("customer_phone_bidx"):
        return found.get(("phone", c["customer_phone_bidx"]))
    return None


def _clean_customer_reference(raw: dict[str, Any], c: dict[str, Any], errors: dict[str, str]) -> None:
    if raw.get("customer_external_id"):
        c["customer_external_id"] = str(raw["customer_external_id"]).strip()
    if raw.get("customer_email"):
        try:
            c["customer_email_bidx"] = cleaning.email_bidx(cleaning.clean_email(raw["customer_email"]))
        except ValueError as exc:
            errors["customer_email"] = str(exc)
    if raw.get("customer_phone"):
        try:
            c["customer_phone_bidx"] = cleaning.phone_bidx(cleaning.clean_phone(raw["customer_phone"]))
        except ValueError as exc:
            errors["customer_phone"] = str(exc)
    if not ({"customer_external_id", "customer_email_bidx", "customer_phone_bidx"} & set(c)) and not errors:
        errors["customer"] = _("Say which customer this row belongs to (external id, e-mail or phone).")


class ContactImporter(BaseImporter):
    def __init__(self, ctx: Context, sink: ErrorSink, outcome: Outcome) -> None:
        super().__init__(ctx, sink, outcome)
        self.table = Table(Contact)
        self.encrypt = crypto.keyring().bulk_encrypter()

    def cleaners(self) -> dict[str, tuple[str, Callable[[Any], Any]]]:
        return {
            "name": ("name", validation.clean_name),
            "title": ("title", _text(100)),
            "email": ("email", cleaning.clean_email),
            "phone": ("phone", cleaning.clean_phone),
            "is_primary": ("is_primary", cleaning.clean_bool),
            "external_id": ("external_id", _optional_text(100)),
        }

    def clean(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        c = self.apply_cleaners(raw, errors)
        _clean_customer_reference(raw, c, errors)
        if self.has_custom:
            c["custom"] = self.clean_custom(raw, errors)
        return c

    def prepare(self, batch: list[CleanRow]) -> list[CleanRow]:
        self.customers = _customer_lookup(batch)
        external = {c["external_id"] for _n, c in batch if c.get("external_id")}
        self.existing = dict(rows_in(Contact, "external_id", ("external_id", "pk"), external)) if external else {}
        good = []
        seen: set[str] = set()
        for number, c in batch:
            customer_id = _resolve_customer(c, self.customers)
            if customer_id is None:
                self.fail(number, "customer", _("No customer matches this row's customer reference."))
                continue
            ext = c.get("external_id")
            if ext and ext in seen:
                self.fail(number, "external_id", _("The same external id appears twice in the file."))
                continue
            if ext and ext in self.existing and self.ctx.upsert_by != "external_id":
                self.fail(number, "external_id", _("A contact with this external id already exists."))
                continue
            if ext:
                seen.add(ext)
            c["customer_id"] = customer_id
            good.append((number, c))
        return good

    def write(self, batch: list[CleanRow]) -> None:
        moment = now()
        inserts: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        fresh = [(n, c) for n, c in batch if not (c.get("external_id") and c["external_id"] in self.existing)]
        ids = self.table.allocate_ids(len(fresh))
        for (_n, c), pk in zip(fresh, ids, strict=True):
            row = {k: v for k, v in c.items() if not k.startswith("customer_") or k == "customer_id"}
            row["email_bidx"] = cleaning.email_bidx(c.get("email") or "")
            row["phone_bidx"] = cleaning.phone_bidx(c.get("phone") or "")
            for secret in ("email", "phone"):
                if row.get(secret):
                    row[secret] = self.encrypt(row[secret])
            row.update(id=pk, created_at=moment, updated_at=moment)
            inserts.append(row)
        for _n, c in batch:
            if c.get("external_id") and c["external_id"] in self.existing:
                values = {k: v for k, v in c.items() if v not in (None, "") and not k.startswith("customer_")}
                values["customer_id"] = c["customer_id"]
                if values.get("email"):
                    values["email_bidx"] = cleaning.email_bidx(values["email"])
                    values["email"] = self.encrypt(values["email"])
                if values.get("phone"):
                    values["phone_bidx"] = cleaning.phone_bidx(values["phone"])
                    values["phone"] = self.encrypt(values["phone"])
                values.pop("custom", None)
                values["updated_at"] = moment
                updates.append((self.existing[c["external_id"]], values))
        self.table.insert(inserts)
        if updates:
            update_rows(self.table.name, updates)
        self.outcome.created += len(inserts)
        self.outcome.updated += len(updates)
        customers = sorted({row["customer_id"] for row in inserts})
        self.outcome.touched_customer_ids.update(customers)
        self.timeline(customers, "contact.added", {"key": "contacts added by import", "job_id": self.ctx.job_id})


# --- orders ----------------------------------------------------------------------------------


_CENT = Decimal("0.01")
_PLAIN_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?$")
_CURRENCY_ALIASES = {
    "rmb": "CNY",
    "人民币": "CNY",
    "元": "CNY",
    "¥": "CNY",
    "￥": "CNY",  # the full-width sign Chinese input methods type
    "美元": "USD",
    "$": "USD",
    "欧元": "EUR",
    "港币": "HKD",
}


class OrderImporter(BaseImporter):
    """One order per order number; consecutive rows with the same number are its lines."""

    batch_size = 10_000

    def __init__(self, ctx: Context, sink: ErrorSink, outcome: Outcome) -> None:
        super().__init__(ctx, sink, outcome)
        self.orders = Table(Order)
        self.lines = Table(OrderLine)
        self.products: dict[str, tuple[int, str, str]] = {}
        self.today_limit = timezone.now() + dt.timedelta(minutes=5)
        self.zone = timezone.get_current_timezone()
        self.currencies: dict[str, str | ValueError] = {}
        self._no_refund = copy_text(self.orders.defaults()["refunded_amount"])
        self._order_columns = self.orders.renderer(lead=self.ORDER_LEAD).columns
        self._line_columns = self.lines.renderer(skip=("id",), lead=self.LINE_LEAD).columns

    def clean(self, raw: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        # Written out without helper closures: this runs once per order row.
        c: dict[str, Any] = {}
        _clean_customer_reference(raw, c, errors)
        get = raw.get
        try:
            c["number"] = validation.clean_name(get("number"), max_length=64)
        except ValueError as exc:
            errors["number"] = str(exc)
        try:
            c["ordered_at"] = self._moment(get("ordered_at"))
        except ValueError as exc:
            errors["ordered_at"] = str(exc)
        currency = get("currency")
        if currency not in (None, ""):
            try:
                c["currency"] = self._currency(currency)
            except ValueError as exc:
                errors["currency"] = str(exc)
        total = get("total_amount")
        if total not in (None, ""):
            try:
                c["total_amount"] = clean_amount(total)
            except ValueError as exc:
                errors["total_amount"] = str(exc)
        if "status" in raw:
            try:
                c["status"] = cleaning.clean_order_status(raw["status"], "paid")
            except ValueError as exc:
                errors["status"] = str(exc)
        if "channel" in raw:
            try:
                c["channel"] = cleaning.clean_order_channel(raw["channel"], "online")
            except ValueError as exc:
                errors["channel"] = str(exc)
        sku, product, quantity, price = get("sku"), get("product_name"), get("quantity"), get("unit_price")
        if sku or product or quantity or price:
            line: dict[str, Any] = {
                "sku": str(sku or "").strip(),
                "name": cleaning.clean_text(product, max_length=200)[:200] if product else "",
                "category": cleaning.clean_text(get("category"), max_length=100)[:100],
                "quantity": None,
                "unit_price": None,
            }
            if len(line["sku"]) > 64:
                errors["sku"] = _("Use at most %(n)s characters.") % {"n": 64}
            try:
                line["quantity"] = self._quantity(quantity)
                line["unit_price"] = self._unit_price(raw, line)
            except ValueError as exc:
                errors["quantity" if line["quantity"] is None else "unit_price"] = str(exc)
            if line["quantity"] is not None and line["unit_price"] is not None:
                line["amount"] = (line["quantity"] * line["unit_price"]).quantize(_CENT)
            if not line["sku"] and not line["name"] and "sku" not in errors:
                errors["product_name"] = _("Give the product's SKU or name.")
            c["line"] = line
        elif total in (None, ""):
            errors["total_amount"] = _("Give the order's amount, or its quantity and unit price.")
        if self.has_custom:
            c["custom"] = self.clean_custom(raw, errors)
        return c

    def _currency(self, value: Any) -> str:
        key = str(value)
        if key not in self.currencies:
            if len(self.currencies) > 1000:
                self.currencies.clear()
            try:
                self.currencies[key] = clean_currency(_CURRENCY_ALIASES.get(key.strip().lower(), key))
            except ValueError as exc:
                self.currencies[key] = exc
        found = self.currencies[key]
        if isinstance(found, ValueError):
            raise found
        return found

    def _moment(self, value: Any) -> dt.datetime:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        if isinstance(value, str) and _PLAIN_MOMENT.match(value):
            # The common shape, without the per-row time-zone lookup of the general validator.
            try:
                moment = dt.datetime.fromisoformat(value).replace(tzinfo=self.zone)
            except ValueError as exc:
                raise ValueError(_("Enter a valid date and time (ISO 8601, e.g. 2026-03-01 14:30).")) from exc
        else:
            if isinstance(value, str) and len(value) == 10:
                value = value + " 00:00"
            moment = validation.clean_datetime(value, spreadsheet=True)
        if moment > self.today_limit:
            raise ValueError(_("An order cannot be placed in the future."))
        return moment

    @staticmethod
    def _quantity(value: Any) -> Decimal:
        if value in (None, ""):
            return Decimal(1)
        try:
            quantity = Decimal(str(value).strip())
        except ArithmeticError as exc:
            raise ValueError(_("Enter a number.")) from exc
        if not quantity.is_finite() or quantity <= 0:
            raise ValueError(_("The quantity must be greater than zero."))
        if quantity >= Decimal("1e9"):
            raise ValueError(_("The quantity is too large."))
        return quantity.quantize(Decimal("0.001"))

    @staticmethod
    def _unit_price(raw: dict[str, Any], line: dict[str, Any]) -> Decimal:
        if raw.get("unit_price") in (None, ""):
            if raw.get("total_amount") in (None, "") or not line.get("quantity"):
                raise ValueError(_("Give the unit price or the order amount."))
            return clean_amount(Decimal(str(clean_amount(raw["total_amount"]))) / line["quantity"])
        return clean_amount(raw["unit_price"])

    def can_cut(self, batch: list[CleanRow]) -> bool:
        # Never split one order's lines over two batches: cut only between order numbers.
        return len(batch) < 2 or batch[-1][1].get("number") != batch[-2][1].get("number") or len(batch) > 50_000

    # Columns whose values the writing thread decides (ids, references, totals of the surviving lines)
    # come first in the COPY column list; the cleaning thread renders the rest (`render_batch`).
    ORDER_LEAD = ("id", "customer_id", "total_amount", "refunded_amount")
    LINE_LEAD = ("order_id", "product_id", "name", "category")

    def render_batch(self, batch: Batch) -> None:
        moment = now()
        orders = self.orders.renderer(lead=self.ORDER_LEAD)
        lines = self.lines.renderer(skip=("id",), lead=self.LINE_LEAD)
        for _number, c in batch.rows:
            row = {"number": c["number"], "ordered_at": c["ordered_at"], "created_at": moment, "updated_at": moment}
            for key in ("currency", "status", "channel", "custom"):
                if c.get(key):
                    row[key] = c[key]
            c["_copy"] = orders.render(row)
            line = c.get("line")
            if line is not None:
                line["_copy"] = lines.render(
                    {k: line[k] for k in ("sku", "quantity", "unit_price", "amount") if k in line}
                )
                # Name and category as COPY text; "" when the file leaves them empty: the writer then takes the
                # product's (or, for a line without a product, the SKU as its name and no category).
                line["_name"] = copy_text(line["name"]) if line["name"] else ""
                line["_category"] = copy_text(line["category"]) if line["category"] else ""
        _customer_keys(batch)
        batch.keys["number"] = TextArray(c["number"] for _n, c in batch.rows)

    def prepare(self, batch: list[CleanRow]) -> list[CleanRow]:
        customers = _customer_lookup(batch, self.keys or None)
        numbers = self.keys.get("number") or {c["number"] for _n, c in batch}
        self.existing = dict(rows_in(Order, "number", ("number", "pk"), numbers))
        skus = {c["line"]["sku"] for _n, c in batch if c.get("line") and c["line"]["sku"]} - set(self.products)
        if skus:
            if len(self.products) > 100_000:
                self.products.clear()
            for pk, sku, name, category in rows_in(Product, "sku", ("pk", "sku", "name", "category"), skus):
                self.products[sku] = (pk, name, category)
        # Group consecutive rows of one order number; an order with one bad row is rejected whole.
        grouped: list[tuple[int, dict[str, Any], list[dict[str, Any]]]] = []
        seen_numbers: set[str] = set()
        for number, c in batch:
            customer_id = _resolve_customer(c, customers)
            if customer_id is None:
                self.fail(number, "customer", _("No customer matches this row's customer reference."))
                continue
            c["customer_id"] = customer_id
            if grouped and grouped[-1][1]["number"] == c["number"]:
                head = grouped[-1][1]
                if head["customer_id"] != customer_id:
                    self.fail(number, "customer", _("Rows of one order must belong to one customer."))
                    continue
                if c.get("line"):
                    grouped[-1][2].append(c["line"])
                continue
            if c["number"] in self.existing and self.ctx.upsert_by != "external_id":
                self.fail(number, "number", _("An order with this number already exists."))
                continue
            if c["number"] in seen_numbers:
                self.fail(number, "number", _("The rows of one order must follow each other in the file."))
                continue
            seen_numbers.add(c["number"])
            grouped.append((number, c, [c["line"]] if c.get("line") else []))
        self.grouped = grouped
        return [(n, c) for n, c, _lines in grouped]

    def write(self, batch: list[CleanRow]) -> None:
        moment = now()
        lines_of = {id(c): lines for _n, c, lines in self.grouped}
        fresh = [(n, c) for n, c in batch if c["number"] not in self.existing]
        ids = self.orders.allocate_ids(len(fresh))
        order_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        replaced: list[tuple[int, dict[str, Any]]] = []
        touched: set[int] = set()
        line_text: list[str] = []

        def fresh_orders() -> Iterator[str]:
            """PostgreSQL: the cleaning thread's COPY text with the lead columns in front, made as COPY sends
            the text before it, so PostgreSQL inserts the first orders while the rest is still being made.
            Lines are collected for their own COPY after; rows without text take the plain path."""
            for (_n, c), pk in zip(fresh, ids, strict=True):
                lines = lines_of.get(id(c), [])
                touched.add(c["customer_id"])
                text = c.get("_copy")  # `render_batch` renders every row and line, or none
                if text is None:
                    order_rows.append(self._order_row(pk, c, lines, moment))
                    line_rows.extend(self._line_row(pk, line) for line in lines)
                    continue
                total = c.get("total_amount")
                if total is None:
                    total = sum((line["amount"] for line in lines), Decimal("0.00"))
                refunded = total if c.get("status") == "refunded" else self._no_refund
                yield f"{pk}\t{c['customer_id']}\t{total}\t{refunded}\t{text}"
                for line in lines:
                    sku = line["sku"]
                    product = self.products.get(sku) if sku else None
                    if product is None:
                        name = line["_name"] or copy_text(sku)
                        line_text.append(f"{pk}\t{NULL_TEXT}\t{name}\t{line['_category']}\t{line['_copy']}")
                        continue
                    name = line["_name"] or copy_text(product[1])
                    category = line["_category"] or copy_text(product[2])
                    line_text.append(f"{pk}\t{product[0]}\t{name}\t{category}\t{line['_copy']}")

        if self.pre_render:
            copied = self.orders.copy_text(self._order_columns, fresh_orders())
        else:
            copied = sum(1 for _line in fresh_orders())
        for _n, c in batch:
            if c["number"] in self.existing:
                pk = self.existing[c["number"]]
                lines = lines_of.get(id(c), [])
                row = self._order_row(pk, c, lines, moment)
                row.pop("id")
                row.pop("created_at")
                row.pop("version", None)
                replaced.append((pk, row))
                touched.add(c["customer_id"])
        if replaced:
            OrderLine.objects.filter(order_id__in=[pk for pk, _r in replaced]).delete()
            update_rows(self.orders.name, replaced, json_columns=self.orders.json_columns)
            for pk, _row in replaced:
                c = next(c for _n, c in batch if self.existing.get(c["number"]) == pk)
                line_rows.extend(self._line_row(pk, line) for line in lines_of.get(id(c), []))
        self.orders.insert(order_rows)
        self.lines.insert(line_rows)
        if line_text:
            self.lines.copy_text(self._line_columns, line_text)
        self.outcome.created += len(order_rows) + copied
        self.outcome.updated += len(replaced)
        self.outcome.touched_customer_ids.update(touched)

    def _order_row(self, pk: int, c: dict[str, Any], lines: list[dict[str, Any]], moment: Any) -> dict[str, Any]:
        total = c.get("total_amount")
        if total is None:
            total = sum((line["amount"] for line in lines), Decimal("0.00"))
        row = {
            "id": pk,
            "customer_id": c["customer_id"],
            "number": c["number"],
            "ordered_at": c["ordered_at"],
            "total_amount": total,
            "created_at": moment,
            "updated_at": moment,
        }
        for key in ("currency", "status", "channel"):
            if c.get(key):
                row[key] = c[key]
        if c.get("custom"):
            custom = c["custom"]
            if c["number"] in self.existing:  # an update keeps the values its row leaves empty
                stored = Order.objects.filter(pk=pk).values_list("custom", flat=True).first()
                custom = {**(stored or {}), **custom}
            row["custom"] = custom
        if row.get("status") == "refunded":
            row["refunded_amount"] = total
        return row

    def _line_row(self, order_id: int, line: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(line["sku"]) if line["sku"] else None
        return {
            "order_id": order_id,
            "product_id": product[0] if product else None,
            "sku": line["sku"],
            "name": line["name"] or (product[1] if product else line["sku"]),
            "category": line["category"] or (product[2] if product else ""),
            "quantity": line["quantity"],
            "unit_price": line["unit_price"],
            "amount": line["amount"],
        }


IMPORTERS: dict[str, type[BaseImporter]] = {
    "customers": CustomerImporter,
    "contacts": ContactImporter,
    "orders": OrderImporter,
}


def error_file_for(job_dir: Path) -> Path:
    return job_dir / "errors.jsonl"


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative
