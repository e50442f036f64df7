"""Customers: people and organisations, needs, orders, segments, scores — the shared heart."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = _("Customers")
    # Modules whose ROUTERS are mounted under /api/v1 (see crm/api.py).
    api_modules = (
        "crm.customers.api",
        "crm.customers.transfer.api",
        "crm.customers.duplicates.api",
        "crm.customers.scoring.api",
        "crm.customers.segments.api",
    )

    def ready(self) -> None:
        from crm.customers.access import register_all
        from crm.web.navigation import override_url

        register_all()
        override_url("customers", "customers:list")
        from crm.customers.transfer.panels import register_panels  # import/export/duplicates panel

        register_panels()
