"""The scoring store: tables that hold the fitted state of the analysis (cut points, model parameters).

It is its own small app so scoring owns its migrations without touching the customers app's.
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringStoreConfig(AppConfig):
    name = "crm.customers.scoring.store"
    label = "scoring"
    verbose_name = _("Customer scores")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.customers.scoring import registrations

        registrations.register_all()
