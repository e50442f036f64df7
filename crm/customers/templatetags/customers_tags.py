"""Template helpers for customer pages: dictionary lookup, money, choice labels, timeline sentences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _

from crm.core.money import format_money
from crm.customers import choices

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key, "")
    return ""


@register.filter
def money(amount: Decimal | None, currency: str = "CNY") -> str:
    return format_money(amount, currency or "CNY")


_LABELS: dict[str, Any] = {
    **dict(choices.LifecycleStage.choices),
    **dict(choices.NeedLevel.choices),
    **dict(choices.NeedStatus.choices),
    **dict(choices.OrderStatus.choices),
    **dict(choices.OrderChannel.choices),
    **dict(choices.RfmSegment.choices),
    **dict(choices.CustomerKind.choices),
    **dict(choices.ChannelKind.choices),
}


@register.filter
def label(value: Any) -> str:
    """The translated label of a stored choice value (stage, level, status, segment…)."""
    found = _LABELS.get(str(value))
    return str(found) if found is not None else str(value or "")


@register.filter
def tier_label(value: Any) -> str:
    found = dict(choices.ValueTier.choices).get(str(value))
    return str(found) if found is not None else ""


@register.filter
def custom_value(value: Any) -> str:
    """A stored custom-field value as text: yes/no, a list joined with commas, anything else as is."""
    if value is True:
        return str(_("yes"))
    if value is False:
        return str(_("no"))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@register.filter
def event_text(event: Any) -> str:
    """A translated sentence for a timeline event, from its neutral payload key."""
    payload = event.payload or {}
    key = payload.get("key") or event.kind
    sentences = {
        "customer.created": lambda: _("Customer created"),
        "customer.updated": lambda: (
            _("Profile updated: %(fields)s") % {"fields": ", ".join(payload.get("fields", []))}
            if payload.get("fields")
            else _("Profile updated")
        ),
        "customer.assigned": lambda: _("Owner changed to %(owner)s") % {"owner": payload.get("owner") or "—"},
        "customer.merged": lambda: _("Merged with another customer record"),
        "channel.added": lambda: _("Contact channel added (%(kind)s)") % {"kind": label(payload.get("channel", ""))},
        "contact.added": lambda: _("Contact %(name)s added") % {"name": payload.get("name", "")},
        "need.raised": lambda: _("Need raised: %(title)s") % {"title": payload.get("title", "")},
        "need.updated": lambda: _("Need updated: %(title)s") % {"title": payload.get("title", "")},
        "need.converted": lambda: (
            _("Need %(title)s converted to %(target)s")
            % {"title": payload.get("title", ""), "target": payload.get("target", "")}
        ),
        "order.placed": lambda: (
            _("Order %(number)s placed: %(amount)s")
            % {
                "number": payload.get("number", ""),
                "amount": format_money(Decimal(payload.get("amount") or 0), payload.get("currency") or "CNY"),
            }
        ),
        "order.refunded": lambda: (
            _("Order %(number)s refunded: %(amount)s")
            % {
                "number": payload.get("number", ""),
                "amount": format_money(Decimal(payload.get("amount") or 0), payload.get("currency") or "CNY"),
            }
        ),
        "order.cancelled": lambda: _("Order %(number)s cancelled") % {"number": payload.get("number", "")},
        "order.updated": lambda: _("Order %(number)s updated") % {"number": payload.get("number", "")},
        "note.added": lambda: _("Note: %(text)s") % {"text": payload.get("text", "")},
        "import.created": lambda: _("Created by an import"),
    }
    maker = sentences.get(key)
    return maker() if maker is not None else str(event.subject)
