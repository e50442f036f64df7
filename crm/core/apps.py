"""The kernel every domain app stands on: audit, timeline, access, errors, tasks."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("Core")
    # crm.core.api holds the shared API conventions; the audit-log router lives beside it.
    api_modules = ["crm.core.audit_api"]

    def ready(self) -> None:
        from crm.core import access, checks  # noqa: F401  (registers system checks)
        from crm.core.models import AuditEntry

        access.register(AuditEntry, owner_field=None, team_field=None, department_field=None, share_field=None)

        from crm.core.audit_views import audit_panel
        from crm.web.modules import register_panel

        register_panel("admin", "core.audit", audit_panel, order=20)

        from django.conf import settings

        from crm.core import schedule

        schedule.register(
            "core.housekeeping", "crm.core.tasks.housekeeping_task", daily_at=settings.SCHEDULE_HOUSEKEEPING_AT
        )
