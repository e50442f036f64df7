"""The web shell: layout, navigation, login pages and shared UI components."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "crm.web"
    label = "web"
    verbose_name = _("Web")
