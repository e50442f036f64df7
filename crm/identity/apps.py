"""Users, departments, teams, roles and API tokens."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "crm.identity"
    label = "identity"
    verbose_name = _("Identity")
