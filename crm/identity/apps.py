"""Users, departments, teams, roles and API tokens."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "crm.identity"
    label = "identity"
    verbose_name = _("Identity")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from crm.identity.access import register_identity_models
        from crm.identity.builtin_roles import sync_builtin_roles

        register_identity_models()

        from crm.identity.views import admin_panel
        from crm.web.modules import register_panel

        register_panel("admin", "identity.administration", admin_panel, order=10)

        post_migrate.connect(sync_builtin_roles, sender=self, dispatch_uid="crm.identity.sync_builtin_roles")
