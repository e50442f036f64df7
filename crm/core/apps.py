"""The kernel every domain app stands on: audit, timeline, access, errors, tasks."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from crm.core import checks  # noqa: F401  (registers system checks)
