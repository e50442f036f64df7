"""Registers every customers model with the access layer: customers by owner, the rest follow their customer."""

from __future__ import annotations

from django.db.models import Q

from crm.core import access
from crm.core.models import CustomFieldDefinition
from crm.customers import models as m

CUSTOMER_SENSITIVE = ("email", "phone", "address", "id_number")


def register_all() -> None:
    access.register(
        m.Customer,
        owner_field="owner",
        team_field="owner__team",
        department_field="owner__department",
        base_filter=Q(is_active=True),
        sensitive_fields=CUSTOMER_SENSITIVE,
    )
    follows_customer = {
        "owner_field": "customer__owner",
        "team_field": "customer__owner__team",
        "department_field": "customer__owner__department",
        # A customer shared with a team brings its contacts, needs, orders… along.
        "share_field": "customer",
    }
    access.register(m.Contact, **follows_customer, sensitive_fields=("email", "phone"))
    access.register(m.CustomerChannel, **follows_customer, sensitive_fields=("value",))
    access.register(m.Need, **follows_customer)
    access.register(m.Order, **follows_customer)
    access.register(m.CustomerScore, **follows_customer)
    access.register(
        m.OrderLine,
        owner_field="order__customer__owner",
        team_field="order__customer__owner__team",
        department_field="order__customer__owner__department",
        share_field="order__customer",
    )
    access.register(
        m.Refund,
        owner_field="order__customer__owner",
        team_field="order__customer__owner__team",
        department_field="order__customer__owner__department",
        share_field="order__customer",
    )
    # Catalogue and configuration: shared company-wide; roles grant them at scope ALL or not at all.
    for model in (m.Product, m.NeedType, m.Tag):
        access.register(model, owner_field=None, team_field=None, department_field=None, share_field=None)
    # Segments and saved views belong to their author. No team path: a manager's "team they manage"
    # rule would otherwise let them create/change in others' names, which the role table does not grant.
    access.register(m.Segment, owner_field="owner", team_field=None, department_field=None)
    access.register(m.SavedView, owner_field="user", team_field=None, department_field=None, share_field=None)
    for job_model in (m.ImportJob, m.ExportJob):
        access.register(
            job_model,
            owner_field="created_by",
            team_field="created_by__team",
            department_field="created_by__department",
        )
    # Custom-field definitions are core's model but customers serves their API and admin page.
    access.register(CustomFieldDefinition, owner_field=None, team_field=None, department_field=None, share_field=None)
    access.register(
        m.DuplicateCandidate,
        owner_field="customer_a__owner",
        team_field=None,
        department_field=None,
        share_field="customer_a",
    )
