"""Hooks the scoring area plugs into other parts of the CRM at start-up (panels, navigation, access)."""

from __future__ import annotations


def register_all() -> None:
    from crm.core import access
    from crm.customers.models import Customer, Segment

    registered = access.registered_models()
    # The customers area owns Customer's registration; this is the contract's spec, used only
    # until (or unless) it has registered it, so scores never read outside the access layer.
    if Customer not in registered:
        access.register(
            Customer,
            owner_field="owner",
            team_field="owner__team",
            department_field="owner__department",
            sensitive_fields=("email", "phone", "address", "id_number"),
        )
    if Segment not in registered:
        access.register(Segment, owner_field="owner", team_field="owner__team", department_field="owner__department")
    _register_pages()
    _register_schedule()


def _register_schedule() -> None:
    from django.conf import settings

    from crm.core import schedule

    # Nightly: refreshes RFM cut points and the value models' parameters for everyone.
    schedule.register(
        "scores.full_recompute",
        "crm.customers.scoring.tasks.recompute_all_scores",
        daily_at=settings.SCHEDULE_SCORES_AT,
    )


def _register_pages() -> None:
    from crm.customers.scoring import panels
    from crm.web.modules import register_panel
    from crm.web.navigation import override_url

    register_panel("sales", "customers.contact_today", panels.contact_today_panel, order=10)
    register_panel("customers", "customers.contact_today", panels.contact_today_panel, order=20)
    register_panel("customers", "customers.analytics", panels.analytics_panel, order=30)
    register_panel("analytics", "customers.analytics", panels.analytics_panel, order=10)
    register_panel("customers", "customers.segments", panels.segments_panel, order=40)
    register_panel("marketing", "customers.segments", panels.segments_panel, order=10)
    override_url("analytics", "customers:scores-analytics")
