"""Every write to customers, contacts, channels, needs, products, orders, tags, custom fields and saved views.

Each service takes a keyword-only `actor`, validates everything before writing anything (one
ValidationFailed with every field error), runs in one transaction, writes one audit row (personal
fields masked) and a timeline event for the customer, and schedules re-scoring after commit.
Callers pass objects they fetched through the access layer with the verb they need.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.access import can, check_writable, has_verb, visible_to
from crm.core.audit import diff, record_audit, snapshot
from crm.core.crypto import blind_index
from crm.core.custom_fields import clean_custom_values, definitions_for
from crm.core.errors import Conflict, Forbidden, ValidationFailed, check_version
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.core.money import CENT, clean_amount, clean_currency
from crm.core.timeline import record_event
from crm.customers import choices, validation
from crm.customers.access import CUSTOMER_SENSITIVE
from crm.customers.models import (
    Contact,
    Customer,
    CustomerChannel,
    Need,
    NeedType,
    Order,
    OrderLine,
    Product,
    Refund,
    SavedView,
    Tag,
)
from crm.identity.models import User

MAX_BULK_ORDERS = 1000
ORDER_TYPE = "customers.order"
CUSTOMER_FIELDS = (
    "kind",
    "name",
    "gender",
    "birth_date",
    "company_name",
    "industry",
    "source",
    "region",
    "city",
    "country",
    "lifecycle_stage",
    "owner",
    "email",
    "phone",
    "address",
    "id_number",
    "email_opt_in",
    "sms_opt_in",
    "phone_opt_in",
    "external_id",
    "custom",
)
CONTACT_FIELDS = ("name", "title", "email", "phone", "is_primary", "external_id", "custom")
NEED_FIELDS = ("need_type", "level", "status", "title", "description", "raised_at", "needed_by", "owner", "custom")
PRODUCT_FIELDS = ("sku", "name", "category", "list_price", "currency", "is_active")


def schedule_rescore(customer_ids: Iterable[int]) -> None:
    from crm.customers.scoring.services import schedule_rescore as scoring_schedule

    scoring_schedule(sorted(set(customer_ids)))


class _Errors:
    """Collects field errors so one request reports all of them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(str(message))

    def run(self, field: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except ValueError as exc:
            self.add(field, str(exc))
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                for message in messages:
                    self.add(name, message)
        return None

    def raise_if_any(self, detail: str | None = None) -> None:
        if self.errors:
            raise ValidationFailed(detail or _("Some fields are not valid."), errors=self.errors)


def _require(actor: Any, verb: str, model: type[models.Model]) -> None:
    """Refuse a create/admin act the actor's role does not grant (None = the system itself)."""
    if actor is not None and not has_verb(actor, verb, model):
        raise Forbidden(_("You may not do this."))


def _require_in_scope(actor: Any, verb: str, obj: models.Model) -> None:
    """After writing inside the transaction: the row must lie within the actor's scope for `verb`.

    E.g. a member (create: own) may add an order only to a customer they own, and may not create
    a customer owned by someone else. Raising here rolls the whole write back.
    """
    if actor is not None and not can(actor, verb, obj):
        raise Forbidden(_("You may not do this for this customer or owner."))


def _text(value: Any, max_length: int) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(_("Enter text."))
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > max_length:
        raise ValueError(_("Use at most %(n)s characters.") % {"n": max_length})
    return text


def _text_of_size(size: int, value: Any) -> str:
    return _text(value, size)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in {"1", "true", "yes", "on", "是", "y"}:
        return True
    if text in {"0", "false", "no", "off", "否", "n", ""}:
        return False
    raise ValueError(_("Enter true or false."))


def _choice(value: Any, enum: Any) -> str:
    text = str(value if value is not None else "").strip()
    if text not in enum.values:
        raise ValueError(
            _("Unknown choice %(value)s; choose one of: %(choices)s.")
            % {"value": text, "choices": ", ".join(v for v in enum.values if v)}
        )
    return text


def _user(value: Any) -> User | None:
    if value in (None, ""):
        return None
    if isinstance(value, User):
        return value
    try:
        pk = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(_("Choose an existing, active user.")) from exc
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValueError(_("Choose an existing, active user."))
    return user


def _custom(object_type: str, value: Any, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(_("Send a JSON object."))
    return clean_custom_values(object_type, value, existing=existing, partial=existing is not None)


def _external_id(value: Any) -> str | None:
    text = _text(value, 100)
    return text or None


# --- customers ---------------------------------------------------------------------------------


def clean_customer_data(
    data: Mapping[str, Any], *, instance: Customer | None = None, partial: bool = False
) -> dict[str, Any]:
    """Validated, normalised customer values (model field names) or ValidationFailed with every error.

    Shared by pages, the API and imports. `partial` validates only the fields present.
    """
    errors = _Errors()
    out: dict[str, Any] = {}
    unknown = sorted(set(data) - set(CUSTOMER_FIELDS) - {"tags", "version"})
    for name in unknown:
        errors.add(name, _("Unknown field."))
    present = set(data)
    if not partial and instance is None and "name" not in present:
        errors.add("name", _("This field is required."))

    def take(name: str, fn: Callable[[Any], Any]) -> None:
        if name in present:
            value = errors.run(name, lambda: fn(data[name]))
            if name not in errors.errors:
                out[name] = value

    take("name", validation.clean_name)
    take("kind", lambda v: _choice(v or choices.CustomerKind.PERSON, choices.CustomerKind))
    take("gender", validation.clean_gender)
    take("birth_date", lambda v: validation.clean_date(v, not_future=True))
    for name, size in (("company_name", 200), ("industry", 100), ("source", 100), ("region", 100), ("city", 100)):
        take(name, functools.partial(_text_of_size, size))
    take("country", _country)
    take("lifecycle_stage", lambda v: _choice(v or choices.LifecycleStage.PROSPECT, choices.LifecycleStage))
    take("owner", _user)
    take("email", validation.clean_email)
    region = out.get("country") or (instance.country if instance else "") or "CN"
    take("phone", lambda v: validation.clean_phone(v, region))
    take("address", lambda v: _text(v, 500))
    take("id_number", lambda v: _text(v, 40).upper())
    for name in ("email_opt_in", "sms_opt_in", "phone_opt_in"):
        take(name, _bool)
    take("external_id", _external_id)
    if "custom" not in present and instance is None and not partial:
        # A new record must still satisfy required custom fields.
        value = errors.run("custom", lambda: clean_custom_values("customers.customer", {}))
        if value:
            out["custom"] = value
    if "custom" in present:
        raw = data["custom"]
        if not isinstance(raw, Mapping):
            errors.add("custom", _("Send a JSON object."))
        else:
            value = errors.run(
                "custom",
                lambda: clean_custom_values(
                    "customers.customer",
                    raw,
                    existing=instance.custom if instance else None,
                    partial=partial or instance is not None,
                ),
            )
            if value is not None:
                out["custom"] = value
    if "tags" in present:
        tags = data["tags"]
        if isinstance(tags, str):
            tags = list(tags.replace("，", ",").split(","))
        if not isinstance(tags, (list, tuple)):
            errors.add("tags", _("Send a list."))
        else:
            names = [_text(t, 50) for t in tags if str(t).strip()]
            out["tags"] = list(dict.fromkeys(names))
    if out.get("external_id"):
        clash = Customer.objects.filter(external_id=out["external_id"])
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors.add("external_id", _("Another customer already has this external id."))
    errors.raise_if_any()
    return out


def _country(value: Any) -> str:
    text = str(value or "").strip().upper()
    if text and (len(text) != 2 or not text.isalpha()):
        raise ValueError(_("Use a two-letter country code such as CN or US."))
    return text


def _apply_blind_indexes(customer: Customer) -> None:
    customer.email_bidx = blind_index("email", customer.email)
    customer.phone_bidx = blind_index("phone", customer.phone) if customer.phone else ""
    customer.id_number_bidx = blind_index("identifier", customer.id_number)


AUDITED_CUSTOMER_FIELDS = (*tuple(f for f in CUSTOMER_FIELDS if f != "custom"), "custom")


def _set_tags(customer: Customer, names: Sequence[str]) -> list[str]:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in names]
    before = sorted(customer.tags.values_list("name", flat=True))
    customer.tags.set(tags)
    return before


def create_customer(*, actor: Any, data: Mapping[str, Any]) -> Customer:
    _require(actor, "create", Customer)
    check_writable(actor, Customer, [k for k in data if k in CUSTOMER_FIELDS])
    cleaned = clean_customer_data(data)
    tags = cleaned.pop("tags", None)
    if "owner" not in data and actor is not None and getattr(actor, "is_authenticated", False):
        cleaned["owner"] = actor
    customer = Customer(**cleaned)
    _apply_blind_indexes(customer)
    try:
        with transaction.atomic():
            customer.save(force_insert=True)
            _require_in_scope(actor, "create", customer)
            if tags:
                _set_tags(customer, tags)
            after = snapshot(customer, AUDITED_CUSTOMER_FIELDS)
            record_audit(actor=actor, verb="create", obj=customer, changes=diff({}, after, masked=CUSTOMER_SENSITIVE))
            record_event(
                customer_id=customer.pk,
                kind="customer.created",
                actor=actor,
                subject="Customer created",
                payload={"key": "customer.created"},
                obj=customer,
            )
    except IntegrityError as exc:
        raise Conflict(_("This customer clashes with an existing one (external id)."), errors={}) from exc
    return customer


def update_customer(
    customer: Customer, *, actor: Any, data: Mapping[str, Any], expected_version: int | None
) -> Customer:
    check_writable(actor, Customer, [k for k in data if k in CUSTOMER_FIELDS])
    cleaned = clean_customer_data(data, instance=customer, partial=True)
    tags = cleaned.pop("tags", None)
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        check_version(locked.version, expected_version)
        before = snapshot(locked, AUDITED_CUSTOMER_FIELDS)
        for name, value in cleaned.items():
            setattr(locked, name, value)
        _apply_blind_indexes(locked)
        after = snapshot(locked, AUDITED_CUSTOMER_FIELDS)
        changes = diff(before, after, masked=CUSTOMER_SENSITIVE)
        if tags is not None:
            old_tags = _set_tags(locked, tags)
            if old_tags != sorted(tags):
                changes["tags"] = {"before": old_tags, "after": sorted(tags)}
        if not changes:
            return locked
        if {"email", "sms_opt_in", "email_opt_in", "phone_opt_in"} & set(changes):
            locked.consent_updated_at = timezone.now()
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(actor=actor, verb="change", obj=locked, changes=changes)
        record_event(
            customer_id=locked.pk,
            kind="customer.updated",
            actor=actor,
            subject="Customer updated",
            payload={"key": "customer.updated", "fields": sorted(changes)},
            obj=locked,
        )
    return locked


def delete_customer(customer: Customer, *, actor: Any) -> None:
    if customer.orders.exists():
        raise Conflict(_("This customer has orders and cannot be deleted; mark it churned instead."))
    with transaction.atomic():
        before = snapshot(customer, AUDITED_CUSTOMER_FIELDS)
        record_audit(actor=actor, verb="delete", obj=customer, changes=diff(before, {}, masked=CUSTOMER_SENSITIVE))
        customer.delete()


def bulk_tag_customers(
    customers: Sequence[Customer], *, actor: Any, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> int:
    """Add and/or remove tags on many customers (the list page's bulk action): one audit row."""
    add_names = [_text(n, 50) for n in add if str(n).strip()]
    remove_names = [_text(n, 50) for n in remove if str(n).strip()]
    if not customers or not (add_names or remove_names):
        return 0
    ids = [c.pk for c in customers]
    with transaction.atomic():
        through = Customer.tags.through
        if add_names:
            tags = [Tag.objects.get_or_create(name=name)[0] for name in add_names]
            through.objects.bulk_create(
                [through(customer_id=cid, tag_id=tag.pk) for cid in ids for tag in tags], ignore_conflicts=True
            )
        if remove_names:
            through.objects.filter(customer_id__in=ids, tag__name__in=remove_names).delete()
        Customer.objects.filter(pk__in=ids).update(updated_at=timezone.now(), version=F("version") + 1)
        record_audit(
            actor=actor,
            verb="change",
            object_type="customers.customer",
            object_id="bulk",
            object_repr=_("%(n)s customers") % {"n": len(ids)},
            changes={"tags": {"before": remove_names, "after": add_names}},
            extra={"customer_ids": ids[:1000], "action": "tag"},
        )
    return len(ids)


def bulk_assign_customers(customers: Sequence[Customer], *, actor: Any, owner: Any) -> int:
    """Give many customers a new owner (needs the assign verb): one audit row, one timeline event each."""
    _require(actor, "assign", Customer)
    check_writable(actor, Customer, ["owner"])
    errors = _Errors()
    new_owner = errors.run("owner", lambda: _user(owner))
    errors.raise_if_any()
    ids = [c.pk for c in customers]
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        Customer.objects.filter(pk__in=ids).update(owner=new_owner, updated_at=now, version=F("version") + 1)
        record_audit(
            actor=actor,
            verb="change",
            object_type="customers.customer",
            object_id="bulk",
            object_repr=_("%(n)s customers") % {"n": len(ids)},
            changes={"owner": {"before": None, "after": new_owner.pk if new_owner else None}},
            extra={"customer_ids": ids[:1000], "action": "assign"},
        )
        TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(
                    customer_id=cid,
                    kind="customer.updated",
                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                    subject="Owner changed",
                    payload={"key": "customer.assigned", "owner": str(new_owner) if new_owner else ""},
                    object_type="customers.customer",
                    object_id=str(cid),
                    occurred_at=now,
                )
                for cid in ids
            ]
        )
    return len(ids)


def add_note(customer: Customer, *, actor: Any, text: str) -> TimelineEvent:
    errors = _Errors()
    body = errors.run("text", lambda: validation.clean_name(text, max_length=2000))
    errors.raise_if_any()
    with transaction.atomic():
        return record_event(
            customer_id=customer.pk,
            kind="note.added",
            actor=actor,
            subject="Note added",
            payload={"key": "note.added", "text": body},
        )


# --- channels and contacts ---------------------------------------------------------------------


def add_channel(customer: Customer, *, actor: Any, kind: Any, value: Any, label: Any = "") -> CustomerChannel:
    check_writable(actor, Customer, ["phone" if kind == "phone" else "email" if kind == "email" else "address"])
    errors = _Errors()
    clean_kind = errors.run("kind", lambda: _choice(kind, choices.ChannelKind))
    clean_label = errors.run("label", lambda: _text(label, 50))
    clean_value: Any = None
    if clean_kind == choices.ChannelKind.EMAIL:
        clean_value = errors.run("value", lambda: validation.clean_email(value))
    elif clean_kind == choices.ChannelKind.PHONE:
        clean_value = errors.run("value", lambda: validation.clean_phone(value, customer.country or "CN"))
    elif clean_kind:
        clean_value = errors.run("value", lambda: _text(value, 500))
    if clean_kind and not clean_value and "value" not in errors.errors:
        errors.add("value", _("This field is required."))
    errors.raise_if_any()
    bidx_kind = {"email": "email", "phone": "phone"}.get(str(clean_kind), "identifier")
    with transaction.atomic():
        channel = CustomerChannel.objects.create(
            customer=customer,
            kind=clean_kind,
            label=clean_label or "",
            value=clean_value,
            value_bidx=blind_index(bidx_kind, clean_value),
        )
        record_audit(
            actor=actor,
            verb="create",
            obj=channel,
            changes={"value": {"before": None, "after": "••••"}},
            extra={"customer_id": customer.pk, "kind": clean_kind},
        )
        record_event(
            customer_id=customer.pk,
            kind="customer.updated",
            actor=actor,
            subject="Channel added",
            payload={"key": "channel.added", "channel": clean_kind},
            obj=channel,
        )
    return channel


def delete_channel(channel: CustomerChannel, *, actor: Any) -> None:
    with transaction.atomic():
        record_audit(actor=actor, verb="delete", obj=channel, extra={"customer_id": channel.customer_id})
        channel.delete()


def clean_contact_data(
    data: Mapping[str, Any], *, instance: Contact | None = None, region: str = "CN"
) -> dict[str, Any]:
    errors = _Errors()
    out: dict[str, Any] = {}
    for name in sorted(set(data) - set(CONTACT_FIELDS) - {"version", "customer_id"}):
        errors.add(name, _("Unknown field."))
    if instance is None and "name" not in data:
        errors.add("name", _("This field is required."))
    steps: dict[str, Callable[[Any], Any]] = {
        "name": validation.clean_name,
        "title": lambda v: _text(v, 100),
        "email": validation.clean_email,
        "phone": lambda v: validation.clean_phone(v, region),
        "is_primary": _bool,
        "external_id": _external_id,
        "custom": lambda v: _custom("customers.contact", v, instance.custom if instance else None),
    }
    for name, fn in steps.items():
        if name in data:
            value = errors.run(name, fn, data[name])
            if name not in errors.errors and not any(k.startswith("custom.") for k in errors.errors):
                out[name] = value
    if instance is None and "custom" not in data:
        errors.run("custom", _custom, "customers.contact", {}, None)
    errors.raise_if_any()
    return out


def create_contact(customer: Customer, *, actor: Any, data: Mapping[str, Any]) -> Contact:
    _require(actor, "create", Contact)
    check_writable(actor, Contact, [k for k in data if k in CONTACT_FIELDS])
    cleaned = clean_contact_data(data, region=customer.country or "CN")
    contact = Contact(customer=customer, **cleaned)
    contact.email_bidx = blind_index("email", contact.email)
    contact.phone_bidx = blind_index("phone", contact.phone) if contact.phone else ""
    try:
        with transaction.atomic():
            if contact.is_primary:
                Contact.objects.filter(customer=customer, is_primary=True).update(is_primary=False)
            contact.save(force_insert=True)
            _require_in_scope(actor, "create", contact)
            record_audit(
                actor=actor,
                verb="create",
                obj=contact,
                changes=diff({}, snapshot(contact, CONTACT_FIELDS), masked=("email", "phone")),
                extra={"customer_id": customer.pk},
            )
            record_event(
                customer_id=customer.pk,
                kind="contact.added",
                actor=actor,
                subject="Contact added",
                payload={"key": "contact.added", "name": contact.name},
                obj=contact,
            )
    except IntegrityError as exc:
        raise Conflict(_("Another contact already has this external id.")) from exc
    return contact


def update_contact(contact: Contact, *, actor: Any, data: Mapping[str, Any], expected_version: int | None) -> Contact:
    check_writable(actor, Contact, [k for k in data if k in CONTACT_FIELDS])
    cleaned = clean_contact_data(data, instance=contact, region=contact.customer.country or "CN")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        check_version(locked.version, expected_version)
        before = snapshot(locked, CONTACT_FIELDS)
        for name, value in cleaned.items():
            setattr(locked, name, value)
        locked.email_bidx = blind_index("email", locked.email)
        locked.phone_bidx = blind_index("phone", locked.phone) if locked.phone else ""
        changes = diff(before, snapshot(locked, CONTACT_FIELDS), masked=("email", "phone"))
        if not changes:
            return locked
        if cleaned.get("is_primary"):
            Contact.objects.filter(customer_id=locked.customer_id, is_primary=True).exclude(pk=locked.pk).update(
                is_primary=False
            )
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(actor=actor, verb="change", obj=locked, changes=changes, extra={"customer_id": locked.customer_id})
    return locked


def delete_contact(contact: Contact, *, actor: Any) -> None:
    with transaction.atomic():
        record_audit(actor=actor, verb="delete", obj=contact, extra={"customer_id": contact.customer_id})
        contact.delete()


# --- need types and needs ----------------------------------------------------------------------


def save_need_type(*, actor: Any, data: Mapping[str, Any], instance: NeedType | None = None) -> NeedType:
    _require(actor, "change" if instance else "create", NeedType)
    errors = _Errors()
    code = errors.run("code", lambda: _slug(data.get("code", instance.code if instance else "")))
    name = errors.run("name", lambda: validation.clean_name(data.get("name", instance.name if instance else "")))
    name_en = errors.run("name_en", lambda: _text(data.get("name_en", instance.name_en if instance else ""), 100))
    is_active = errors.run("is_active", lambda: _bool(data.get("is_active", instance.is_active if instance else True)))
    if code and NeedType.objects.filter(code=code).exclude(pk=instance.pk if instance else 0).exists():
        errors.add("code", _("This code is already used."))
    errors.raise_if_any()
    with transaction.atomic():
        need_type = instance or NeedType()
        before = snapshot(need_type, ("code", "name", "name_en", "is_active")) if instance else {}
        need_type.code, need_type.name, need_type.name_en, need_type.is_active = code, name, name_en, is_active
        need_type.save()
        record_audit(
            actor=actor,
            verb="change" if instance else "create",
            obj=need_type,
            changes=diff(before, snapshot(need_type, ("code", "name", "name_en", "is_active"))),
        )
    return need_type


def _slug(value: Any) -> str:
    text = str(value or "").strip().lower()
    if not text:
        raise ValueError(_("This field is required."))
    if len(text) > 40 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise ValueError(_("Use up to 40 lower-case letters, digits, - or _."))
    return text


def _need_type(value: Any) -> NeedType:
    if isinstance(value, NeedType):
        return value
    query = NeedType.objects.filter(is_active=True)
    text = str(value or "").strip()
    found = query.filter(pk=int(text)).first() if text.isdigit() else query.filter(code=text).first()
    if found is None:
        raise ValueError(_("Choose an existing need type."))
    return found


def clean_need_data(data: Mapping[str, Any], *, instance: Need | None = None) -> dict[str, Any]:
    errors = _Errors()
    out: dict[str, Any] = {}
    for name in sorted(set(data) - set(NEED_FIELDS) - {"version", "customer_id"}):
        errors.add(name, _("Unknown field."))
    if instance is None:
        for name in ("need_type", "title"):
            if name not in data:
                errors.add(name, _("This field is required."))
    steps: dict[str, Callable[[Any], Any]] = {
        "need_type": _need_type,
        "level": lambda v: _choice(v or choices.NeedLevel.NORMAL, choices.NeedLevel),
        "status": lambda v: _choice(v or choices.NeedStatus.OPEN, choices.NeedStatus),
        "title": validation.clean_name,
        "description": lambda v: str(v or "").strip()[:5000],
        "raised_at": lambda v: validation.clean_datetime(v, not_future=True),
        "needed_by": validation.clean_date,
        "owner": _user,
        "custom": lambda v: _custom("customers.need", v, instance.custom if instance else None),
    }
    for name, fn in steps.items():
        if name in data:
            value = errors.run(name, fn, data[name])
            if name not in errors.errors:
                out[name] = value
    if instance is None and "custom" not in data:
        errors.run("custom", _custom, "customers.need", {}, None)
    errors.raise_if_any()
    return out


def _need_snapshot(need: Need) -> dict[str, Any]:
    return snapshot(need, NEED_FIELDS)


def create_need(customer: Customer, *, actor: Any, data: Mapping[str, Any]) -> Need:
    _require(actor, "create", Need)
    cleaned = clean_need_data(data)
    if "owner" not in cleaned:
        cleaned["owner"] = customer.owner
    need = Need(customer=customer, **cleaned)
    with transaction.atomic():
        need.save(force_insert=True)
        _require_in_scope(actor, "create", need)
        record_audit(
            actor=actor,
            verb="create",
            obj=need,
            changes=diff({}, _need_snapshot(need)),
            extra={"customer_id": customer.pk},
        )
        record_event(
            customer_id=customer.pk,
            kind="need.raised",
            actor=actor,
            subject="Need raised",
            payload={"key": "need.raised", "title": need.title, "level": need.level},
            obj=need,
        )
        schedule_rescore([customer.pk])
    return need


def update_need(need: Need, *, actor: Any, data: Mapping[str, Any], expected_version: int | None) -> Need:
    cleaned = clean_need_data(data, instance=need)
    with transaction.atomic():
        locked = Need.objects.select_for_update().get(pk=need.pk)
        check_version(locked.version, expected_version)
        before = _need_snapshot(locked)
        for name, value in cleaned.items():
            setattr(locked, name, value)
        changes = diff(before, _need_snapshot(locked))
        if not changes:
            return locked
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(actor=actor, verb="change", obj=locked, changes=changes, extra={"customer_id": locked.customer_id})
        record_event(
            customer_id=locked.customer_id,
            kind="need.updated",
            actor=actor,
            subject="Need updated",
            payload={"key": "need.updated", "title": locked.title, "fields": sorted(changes), "status": locked.status},
            obj=locked,
        )
        schedule_rescore([locked.customer_id])
    return locked


# Other modules (sales, service) register how a need becomes one of their records:
# register_need_converter("deal", fn) where fn(need, actor) -> (object_type, object_id).
NeedConverter = Callable[[Need, Any], tuple[str, str]]
NEED_CONVERTERS: dict[str, NeedConverter] = {}


def register_need_converter(target: str, converter: NeedConverter) -> None:
    NEED_CONVERTERS[target] = converter


def convert_need(need: Need, *, actor: Any, target: str, expected_version: int | None = None) -> Need:
    """Turn a need into a deal / ticket through the converter the owning module registered."""
    converter = NEED_CONVERTERS.get(target)
    if converter is None:
        raise ValidationFailed(
            _("This need cannot be converted to %(target)s yet.") % {"target": target},
            errors={
                "target": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(sorted(NEED_CONVERTERS)) or "—"}]
            },
        )
    if need.status == choices.NeedStatus.CONVERTED:
        raise Conflict(_("This need was already converted."))
    with transaction.atomic():
        locked = Need.objects.select_for_update().get(pk=need.pk)
        check_version(locked.version, expected_version)
        object_type, object_id = converter(locked, actor)
        locked.status = choices.NeedStatus.CONVERTED
        locked.converted_object_type, locked.converted_object_id = object_type, str(object_id)
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(
            actor=actor,
            verb="change",
            obj=locked,
            changes={"status": {"before": need.status, "after": locked.status}},
            extra={"converted_to": f"{object_type}:{object_id}"},
        )
        record_event(
            customer_id=locked.customer_id,
            kind="need.updated",
            actor=actor,
            subject="Need converted",
            payload={"key": "need.converted", "title": locked.title, "target": target},
            obj=locked,
        )
        schedule_rescore([locked.customer_id])
    return locked


# --- products ----------------------------------------------------------------------------------


def save_product(
    *, actor: Any, data: Mapping[str, Any], instance: Product | None = None, expected_version: int | None = None
) -> Product:
    _require(actor, "change" if instance else "create", Product)
    errors = _Errors()
    for name in sorted(set(data) - set(PRODUCT_FIELDS) - {"version"}):
        errors.add(name, _("Unknown field."))
    if instance is None:
        for name in ("sku", "name", "list_price"):
            if name not in data:
                errors.add(name, _("This field is required."))
    steps: dict[str, Callable[[Any], Any]] = {
        "sku": lambda v: _required_text(v, 64),
        "name": validation.clean_name,
        "category": lambda v: _text(v, 100),
        "list_price": clean_amount,
        "currency": clean_currency,
        "is_active": _bool,
    }
    out: dict[str, Any] = {}
    for name, fn in steps.items():
        if name in data:
            value = errors.run(name, fn, data[name])
            if name not in errors.errors:
                out[name] = value
    if out.get("sku") and Product.objects.filter(sku=out["sku"]).exclude(pk=instance.pk if instance else 0).exists():
        errors.add("sku", _("Another product already has this SKU."))
    errors.raise_if_any()
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=instance.pk) if instance else Product()
        if instance:
            check_version(product.version, expected_version)
        before = snapshot(product, PRODUCT_FIELDS) if instance else {}
        for name, value in out.items():
            setattr(product, name, value)
        changes = diff(before, snapshot(product, PRODUCT_FIELDS))
        if instance and not changes:
            return product
        if instance:
            product.version = F("version") + 1
            product.updated_at = timezone.now()
        product.save()
        product.refresh_from_db(fields=["version"])
        record_audit(actor=actor, verb="change" if instance else "create", obj=product, changes=changes)
    return product


def _required_text(value: Any, size: int) -> str:
    text = _text(value, size)
    if not text:
        raise ValueError(_("This field is required."))
    return text


# --- orders ------------------------------------------------------------------------------------


def _quantity(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Enter a number.")) from exc
    if not number.is_finite() or number <= 0:
        raise ValueError(_("The quantity must be greater than zero."))
    if number >= Decimal("1e9"):
        raise ValueError(_("The quantity is too large."))
    return number.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _order_number() -> str:
    return f"SO{timezone.now():%Y%m%d}{uuid.uuid4().hex[:10].upper()}"


class _OrderPlan:
    """A validated order ready to insert: the order row and its lines."""

    def __init__(self, order: Order, lines: list[OrderLine]) -> None:
        self.order = order
        self.lines = lines


def _plan_order(
    data: Mapping[str, Any],
    *,
    customer: Customer | None,
    products: Mapping[str, Product],
    errors: _Errors,
    prefix: str = "",
    definitions: list[CustomFieldDefinition] | None = None,
) -> _OrderPlan | None:
    allowed = {
        "customer_id",
        "number",
        "ordered_at",
        "channel",
        "status",
        "currency",
        "lines",
        "total_amount",
        "external_id",
        "owner",
        "custom",
    }
    for name in sorted(set(data) - allowed):
        errors.add(f"{prefix}{name}", _("Unknown field."))
    start = len(errors.errors)
    number = errors.run(f"{prefix}number", lambda: _text(data.get("number") or "", 64)) or _order_number()
    if "ordered_at" not in data or data.get("ordered_at") in (None, ""):
        errors.add(f"{prefix}ordered_at", _("This field is required."))
        ordered_at = None
    else:
        ordered_at = errors.run(
            f"{prefix}ordered_at", lambda: validation.clean_datetime(data["ordered_at"], not_future=True)
        )
    channel = errors.run(f"{prefix}channel", lambda: _choice(data.get("channel") or "online", choices.OrderChannel))
    status = errors.run(f"{prefix}status", lambda: _choice(data.get("status") or "paid", choices.OrderStatus))
    if status in {choices.OrderStatus.REFUNDED, choices.OrderStatus.PARTIALLY_REFUNDED}:
        errors.add(f"{prefix}status", _("Create the order as paid, then record a refund."))
    currency = errors.run(f"{prefix}currency", lambda: clean_currency(data.get("currency") or "CNY"))
    external_id = errors.run(f"{prefix}external_id", lambda: _external_id(data.get("external_id")))
    owner = errors.run(f"{prefix}owner", lambda: _user(data.get("owner"))) if data.get("owner") else None
    custom = _order_custom(data, errors, prefix, definitions)
    raw_lines = data.get("lines") or []
    lines: list[OrderLine] = []
    if not isinstance(raw_lines, list):
        errors.add(f"{prefix}lines", _("Send a list."))
        raw_lines = []
    if len(raw_lines) > 500:
        errors.add(f"{prefix}lines", _("Use at most %(n)s lines.") % {"n": 500})
        raw_lines = []
    for index, raw in enumerate(raw_lines):
        path = f"{prefix}lines.{index}."
        if not isinstance(raw, Mapping):
            errors.add(path.rstrip("."), _("Send a JSON object."))
            continue
        for name in sorted(set(raw) - {"sku", "name", "category", "quantity", "unit_price", "product_id"}):
            errors.add(f"{path}{name}", _("Unknown field."))
        sku = str(raw.get("sku") or "").strip()
        product = products.get(sku) if sku else None
        if sku and product is None and not raw.get("name"):
            errors.add(f"{path}sku", _("Unknown SKU %(sku)s.") % {"sku": sku})
        name = errors.run(f"{path}name", validation.clean_name, raw.get("name") or (product.name if product else ""))
        category = errors.run(
            f"{path}category", _text, raw.get("category") or (product.category if product else ""), 100
        )
        quantity = errors.run(f"{path}quantity", _quantity, raw.get("quantity", 1))
        price_raw = raw.get("unit_price")
        if price_raw in (None, "") and product is not None:
            price_raw = product.list_price
        if price_raw in (None, ""):
            errors.add(f"{path}unit_price", _("This field is required."))
            unit_price = None
        else:
            unit_price = errors.run(f"{path}unit_price", clean_amount, price_raw)
        if quantity is not None and unit_price is not None:
            lines.append(
                OrderLine(
                    product=product,
                    sku=sku,
                    name=name or "",
                    category=category or "",
                    quantity=quantity,
                    unit_price=unit_price,
                    amount=(quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP),
                )
            )
    computed = sum((line.amount for line in lines), Decimal("0.00"))
    total: Decimal | None = computed
    if data.get("total_amount") not in (None, ""):
        total = errors.run(f"{prefix}total_amount", lambda: clean_amount(data["total_amount"]))
        if total is not None and lines and total != computed:
            errors.add(
                f"{prefix}total_amount",
                _("The total %(total)s does not match the lines (%(sum)s).") % {"total": total, "sum": computed},
            )
    elif not raw_lines:
        errors.add(f"{prefix}lines", _("Add at least one line, or give the total amount."))
    if customer is None:
        errors.add(f"{prefix}customer_id", _("Choose an existing customer you may see."))
    if len(errors.errors) > start or customer is None or ordered_at is None or total is None or custom is None:
        return None
    order = Order(
        customer=customer,
        number=number,
        ordered_at=ordered_at,
        channel=channel,
        status=status,
        currency=currency,
        total_amount=total,
        external_id=external_id,
        owner_id=owner.pk if owner is not None else customer.owner_id,
        custom=custom,
    )
    return _OrderPlan(order, lines)


def _order_custom(
    data: Mapping[str, Any], errors: _Errors, prefix: str, definitions: list[CustomFieldDefinition] | None
) -> dict[str, Any] | None:
    """A new order's custom values (required fields checked even when `custom` is absent), or None on errors."""
    raw = data.get("custom")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        errors.add(f"{prefix}custom", _("Send a JSON object."))
        return None
    value: dict[str, Any] | None = errors.run(
        f"{prefix}custom",
        lambda: clean_custom_values(ORDER_TYPE, raw, definitions=definitions, prefix=f"{prefix}custom."),
    )
    return value


def _products_for(skus: Iterable[str]) -> dict[str, Product]:
    wanted = {s for s in skus if s}
    return {p.sku: p for p in Product.objects.filter(sku__in=wanted)} if wanted else {}


def _line_skus(data: Mapping[str, Any]) -> list[str]:
    lines = data.get("lines") or []
    if not isinstance(lines, list):
        return []
    return [str(line.get("sku") or "").strip() for line in lines if isinstance(line, Mapping)]


def _check_unique_numbers(
    plans: Sequence[tuple[int, _OrderPlan]], errors: _Errors, prefix: Callable[[int], str]
) -> None:
    seen: dict[str, int] = {}
    for index, plan in plans:
        if plan.order.number in seen:
            errors.add(f"{prefix(index)}number", _("This order number appears twice."))
        seen[plan.order.number] = index
    taken = set(Order.objects.filter(number__in=list(seen)).values_list("number", flat=True))
    ext = [p.order.external_id for _, p in plans if p.order.external_id]
    taken_ext = set(Order.objects.filter(external_id__in=ext).values_list("external_id", flat=True)) if ext else set()
    for index, plan in plans:
        if plan.order.number in taken:
            errors.add(f"{prefix(index)}number", _("An order with this number already exists."))
        if plan.order.external_id and plan.order.external_id in taken_ext:
            errors.add(f"{prefix(index)}external_id", _("An order with this external id already exists."))


def _promote_buyers(customer_ids: Iterable[int]) -> int:
    """A prospect or lead who places an order becomes a customer (same transaction as the order)."""
    return Customer.objects.filter(
        pk__in=set(customer_ids), lifecycle_stage__in=[choices.LifecycleStage.PROSPECT, choices.LifecycleStage.LEAD]
    ).update(lifecycle_stage=choices.LifecycleStage.CUSTOMER, version=F("version") + 1, updated_at=timezone.now())


def create_order(customer: Customer, *, actor: Any, data: Mapping[str, Any]) -> Order:
    """One order with its lines; amounts in Decimal, order time not in the future."""
    _require(actor, "create", Order)
    errors = _Errors()
    plan = _plan_order(data, customer=customer, products=_products_for(_line_skus(data)), errors=errors)
    if plan is not None:
        _check_unique_numbers([(0, plan)], errors, lambda _i: "")
    errors.raise_if_any()
    assert plan is not None
    order = plan.order
    with transaction.atomic():
        order.save(force_insert=True)
        _require_in_scope(actor, "create", order)
        for line in plan.lines:
            line.order = order
        OrderLine.objects.bulk_create(plan.lines)
        promoted = order.status == choices.OrderStatus.PAID and _promote_buyers([customer.pk]) > 0
        record_audit(
            actor=actor,
            verb="create",
            obj=order,
            changes={
                "total_amount": {"before": None, "after": str(order.total_amount)},
                "status": {"before": None, "after": order.status},
                **({"custom": {"before": None, "after": order.custom}} if order.custom else {}),
            },
            extra={
                "customer_id": customer.pk,
                "lines": len(plan.lines),
                "currency": order.currency,
                **({"lifecycle_stage": "customer"} if promoted else {}),
            },
        )
        record_event(
            customer_id=customer.pk,
            kind="order.placed",
            actor=actor,
            subject="Order placed",
            payload={
                "key": "order.placed",
                "number": order.number,
                "amount": str(order.total_amount),
                "currency": order.currency,
            },
            obj=order,
            occurred_at=order.ordered_at,
        )
        schedule_rescore([customer.pk])
    return order


def bulk_create_orders(
    *, actor: Any, customers: Mapping[int, Customer], orders: Sequence[Mapping[str, Any]]
) -> list[Order]:
    """All-or-nothing creation of up to MAX_BULK_ORDERS orders: one audit row for the batch.

    `customers` maps id → Customer for the customers the actor may see (the caller resolves them
    through the access layer in one query); an order naming any other customer is a field error.
    """
    _require(actor, "create", Order)
    errors = _Errors()
    if not orders:
        errors.add("orders", _("Send at least one order."))
    if len(orders) > MAX_BULK_ORDERS:
        errors.add("orders", _("Send at most %(n)s orders per request.") % {"n": MAX_BULK_ORDERS})
    errors.raise_if_any()
    products = _products_for(sku for data in orders for sku in _line_skus(data))
    definitions = definitions_for(ORDER_TYPE)  # read once for the whole batch
    plans: list[tuple[int, _OrderPlan]] = []
    for index, data in enumerate(orders):
        prefix = f"orders.{index}."
        if not isinstance(data, Mapping):
            errors.add(f"orders.{index}", _("Send a JSON object."))
            continue
        try:
            customer = customers.get(int(data.get("customer_id") or 0))
        except (TypeError, ValueError):
            customer = None
        plan = _plan_order(
            data, customer=customer, products=products, errors=errors, prefix=prefix, definitions=definitions
        )
        if plan is not None:
            plans.append((index, plan))
    _check_unique_numbers(plans, errors, lambda i: f"orders.{i}.")
    errors.raise_if_any(_("No order was created: fix the errors and send the batch again."))
    now = timezone.now()
    with transaction.atomic():
        created = Order.objects.bulk_create([plan.order for _, plan in plans], batch_size=500)
        if actor is not None:
            allowed = visible_to(actor, "create", Order).filter(pk__in=[o.pk for o in created]).count()
            if allowed != len(created):
                raise Forbidden(_("You may not add orders to some of these customers."))
        lines: list[OrderLine] = []
        for order, (_index, plan) in zip(created, plans, strict=True):
            for line in plan.lines:
                line.order = order
                lines.append(line)
        OrderLine.objects.bulk_create(lines, batch_size=1000)
        promoted = _promote_buyers(o.customer_id for o in created if o.status == choices.OrderStatus.PAID)
        total_by_currency: dict[str, Decimal] = {}
        for order in created:
            total_by_currency[order.currency] = total_by_currency.get(order.currency, Decimal("0")) + order.total_amount
        record_audit(
            actor=actor,
            verb="create",
            object_type="customers.order",
            object_id="bulk",
            object_repr=_("%(n)s orders") % {"n": len(created)},
            extra={
                "promoted_to_customer": promoted,
                "count": len(created),
                "lines": len(lines),
                "first_id": created[0].pk,
                "last_id": created[-1].pk,
                "totals": {c: str(v) for c, v in total_by_currency.items()},
            },
        )
        actor_user = actor if getattr(actor, "is_authenticated", False) else None
        TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(
                    customer_id=order.customer_id,
                    kind="order.placed",
                    actor=actor_user,
                    subject="Order placed",
                    payload={
                        "key": "order.placed",
                        "number": order.number,
                        "amount": str(order.total_amount),
                        "currency": order.currency,
                    },
                    object_type="customers.order",
                    object_id=str(order.pk),
                    occurred_at=order.ordered_at or now,
                )
                for order in created
            ],
            batch_size=1000,
        )
        schedule_rescore(order.customer_id for order in created)
    return created


def refund_order(order: Order, *, actor: Any, amount: Any, reason: Any = "", refunded_at: Any = None) -> Refund:
    """Record a refund; the refunded total can never exceed the order total."""
    errors = _Errors()
    clean = errors.run("amount", lambda: clean_amount(amount))
    if clean is not None and clean <= 0:
        errors.add("amount", _("The amount must be greater than zero."))
    clean_reason = errors.run("reason", lambda: _text(reason, 300))
    when = timezone.now()
    if refunded_at not in (None, ""):
        when = errors.run("refunded_at", lambda: validation.clean_datetime(refunded_at, not_future=True)) or when
    errors.raise_if_any()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == choices.OrderStatus.CANCELLED:
            raise ValidationFailed(
                _("A cancelled order cannot be refunded."),
                errors={"amount": [_("A cancelled order cannot be refunded.")]},
            )
        remaining = locked.total_amount - locked.refunded_amount
        if clean > remaining:
            raise ValidationFailed(
                _("The refund exceeds what is left to refund."),
                errors={
                    "amount": [
                        _("At most %(n)s %(currency)s can still be refunded.")
                        % {"n": remaining, "currency": locked.currency}
                    ]
                },
            )
        refund = Refund.objects.create(
            order=locked,
            amount=clean,
            reason=clean_reason or "",
            refunded_at=when,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        before = {"refunded_amount": str(locked.refunded_amount), "status": locked.status}
        locked.refunded_amount = locked.refunded_amount + clean
        locked.status = (
            choices.OrderStatus.REFUNDED
            if locked.refunded_amount >= locked.total_amount
            else choices.OrderStatus.PARTIALLY_REFUNDED
        )
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(
            actor=actor,
            verb="change",
            obj=locked,
            changes=diff(before, {"refunded_amount": str(locked.refunded_amount), "status": locked.status}),
            extra={"customer_id": locked.customer_id, "refund_id": refund.pk, "reason": refund.reason},
        )
        record_event(
            customer_id=locked.customer_id,
            kind="order.refunded",
            actor=actor,
            subject="Order refunded",
            payload={
                "key": "order.refunded",
                "number": locked.number,
                "amount": str(clean),
                "currency": locked.currency,
            },
            obj=locked,
        )
        schedule_rescore([locked.customer_id])
    return refund


def cancel_order(order: Order, *, actor: Any, expected_version: int | None = None) -> Order:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        check_version(locked.version, expected_version)
        if locked.refunded_amount > 0:
            raise Conflict(_("An order with refunds cannot be cancelled."))
        if locked.status == choices.OrderStatus.CANCELLED:
            return locked
        before = locked.status
        locked.status = choices.OrderStatus.CANCELLED
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save()
        locked.refresh_from_db(fields=["version"])
        record_audit(
            actor=actor,
            verb="change",
            obj=locked,
            changes={"status": {"before": before, "after": locked.status}},
            extra={"customer_id": locked.customer_id},
        )
        record_event(
            customer_id=locked.customer_id,
            kind="order.cancelled",
            actor=actor,
            subject="Order cancelled",
            payload={"key": "order.cancelled", "number": locked.number},
            obj=locked,
        )
        schedule_rescore([locked.customer_id])
    return locked


ORDER_CHANGEABLE_FIELDS = ("custom",)


def update_order(order: Order, *, actor: Any, data: Mapping[str, Any], expected_version: int | None) -> Order:
    """Change an order's custom values (the keys sent; null removes one). Amounts, status and lines
    change only through refunds and cancels, so the totals and the scores stay consistent."""
    check_writable(actor, Order, [k for k in data if k in ORDER_CHANGEABLE_FIELDS])
    errors = _Errors()
    known = {f.name for f in Order._meta.get_fields()}
    for name in sorted(set(data) - set(ORDER_CHANGEABLE_FIELDS)):
        errors.add(name, _("This cannot be changed.") if name in known else _("Unknown field."))
    raw = data.get("custom", {})
    if not isinstance(raw, Mapping):
        errors.add("custom", _("Send a JSON object."))
    else:
        errors.run("custom", lambda: clean_custom_values(ORDER_TYPE, raw, partial=True))
    errors.raise_if_any()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        check_version(locked.version, expected_version)
        before = snapshot(locked, ORDER_CHANGEABLE_FIELDS)
        # Merged into the locked row's values: a concurrent change to other keys is kept.
        locked.custom = clean_custom_values(ORDER_TYPE, raw, existing=locked.custom, partial=True)
        changes = diff(before, snapshot(locked, ORDER_CHANGEABLE_FIELDS))
        if not changes:
            return locked
        locked.version = F("version") + 1
        locked.updated_at = timezone.now()
        locked.save(update_fields=["custom", "version", "updated_at"])
        locked.refresh_from_db(fields=["version"])
        record_audit(actor=actor, verb="change", obj=locked, changes=changes, extra={"customer_id": locked.customer_id})
        record_event(
            customer_id=locked.customer_id,
            kind="order.updated",
            actor=actor,
            subject="Order updated",
            payload={"key": "order.updated", "number": locked.number, "fields": sorted(changes)},
            obj=locked,
        )
    return locked


# --- custom-field definitions and saved views --------------------------------------------------

CUSTOM_FIELD_OBJECT_TYPES = ("customers.customer", "customers.contact", "customers.need", ORDER_TYPE)


def save_custom_field(
    *, actor: Any, data: Mapping[str, Any], instance: CustomFieldDefinition | None = None
) -> CustomFieldDefinition:
    """Create or change a custom-field definition (administrators only). Type and key never change."""
    _require(actor, "change" if instance else "create", CustomFieldDefinition)
    errors = _Errors()
    allowed = {"object_type", "key", "label", "label_en", "field_type", "choices", "required", "position", "is_active"}
    for name in sorted(set(data) - allowed):
        errors.add(name, _("Unknown field."))
    values: dict[str, Any] = {}
    if instance is None:
        values["object_type"] = errors.run(
            "object_type",
            lambda: _choice_of(data.get("object_type") or "customers.customer", CUSTOM_FIELD_OBJECT_TYPES),
        )
        values["key"] = errors.run("key", lambda: _slug(data.get("key")).replace("-", "_"))
        values["field_type"] = errors.run(
            "field_type",
            lambda: _choice_of(data.get("field_type"), [t for t, _label in CustomFieldDefinition.TYPE_CHOICES]),
        )
    else:
        for frozen in ("object_type", "key", "field_type"):
            if frozen in data and data[frozen] != getattr(instance, frozen):
                errors.add(frozen, _("This cannot be changed once the field exists."))
    field_type = values.get("field_type") or (instance.field_type if instance else "")
    if "label" in data or instance is None:
        values["label"] = errors.run("label", lambda: validation.clean_name(data.get("label"), max_length=100))
    if "label_en" in data:
        values["label_en"] = errors.run("label_en", lambda: _text(data.get("label_en"), 100))
    for name in ("required", "is_active"):
        if name in data:
            values[name] = errors.run(name, _bool, data[name])
    if "position" in data:
        values["position"] = errors.run("position", lambda: _position(data["position"]))
    if field_type in {CustomFieldDefinition.CHOICE, CustomFieldDefinition.MULTI_CHOICE}:
        if "choices" in data or instance is None:
            raw = data.get("choices") or []
            if isinstance(raw, str):
                raw = list(raw.replace("，", ",").replace("\n", ",").split(","))
            items = [str(c).strip() for c in raw if str(c).strip()] if isinstance(raw, list) else []
            if not items:
                errors.add("choices", _("Give at least one choice."))
            elif len(set(items)) != len(items):
                errors.add("choices", _("Each choice may appear only once."))
            values["choices"] = items
    elif data.get("choices"):
        errors.add("choices", _("Only choice fields have choices."))
    if (
        instance is None
        and values.get("key")
        and values.get("object_type")
        and CustomFieldDefinition.objects.filter(object_type=values["object_type"], key=values["key"]).exists()
    ):
        errors.add("key", _("This key is already used."))
    errors.raise_if_any()
    fields = ("object_type", "key", "label", "label_en", "field_type", "choices", "required", "position", "is_active")
    with transaction.atomic():
        definition = instance or CustomFieldDefinition()
        before = snapshot(definition, fields) if instance else {}
        for name, value in values.items():
            setattr(definition, name, value)
        definition.save()
        record_audit(
            actor=actor,
            verb="change" if instance else "create",
            obj=definition,
            changes=diff(before, snapshot(definition, fields)),
        )
    return definition


def _choice_of(value: Any, allowed: Sequence[str]) -> str:
    text = str(value or "").strip()
    if text not in allowed:
        raise ValueError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
    return text


def _position(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ValueError(_("Enter a whole number.")) from exc
    if number < 0 or number > 10000:
        raise ValueError(_("Must be between 0 and 10000."))
    return number


def save_saved_view(*, actor: Any, name: Any, query: Mapping[str, Any]) -> SavedView:
    errors = _Errors()
    clean_name = errors.run("name", lambda: validation.clean_name(name, max_length=100))
    if not isinstance(query, Mapping):
        errors.add("query", _("Send a JSON object."))
    elif isinstance(query.get("definition"), Mapping):
        from crm.customers.filters import validate_definition

        errors.run("query", lambda: validate_definition(query["definition"]))
    errors.raise_if_any()
    with transaction.atomic():
        view, _created = SavedView.objects.update_or_create(
            user=actor, name=clean_name, defaults={"query": dict(query), "object_type": "customers.customer"}
        )
    return view


def delete_saved_view(view: SavedView, *, actor: Any) -> None:
    """Callers fetch the view through the access layer with the delete verb (own, or wider by role)."""
    view.delete()
