"""Hooks the scoring area plugs into other parts of the CRM at start-up (panels, navigation, access)."""

from __future__ import annotations


def register_all() -> None:
    from crm.core import access
    from crm.customers.models import Segment

    if Segment not in access.registered_models():
        access.register(Segment, owner_field="owner", team_field="owner__team", department_field="owner__department")
