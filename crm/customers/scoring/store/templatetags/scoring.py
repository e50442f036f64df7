"""Template filters for stored scores: `{% load scoring %}{{ reason|reason_text }}`, `{{ score|reasons_text }}`."""

from __future__ import annotations

from typing import Any

from django import template

from crm.customers.scoring.priority import render_reason, render_reasons
from crm.customers.scoring.selectors import segment_label

register = template.Library()


@register.filter
def reason_text(reason: Any) -> str:
    """One stored priority reason ({"code", "params"}) in the active language."""
    return render_reason(reason) if isinstance(reason, dict) else str(reason)


@register.filter
def reasons_text(score: Any) -> str:
    """All reasons of a CustomerScore as one phrase."""
    reasons = getattr(score, "priority_reasons", None) or []
    return render_reasons(r for r in reasons if isinstance(r, dict))


@register.filter
def rfm_segment_label(code: str) -> str:
    return segment_label(code) if code else ""
