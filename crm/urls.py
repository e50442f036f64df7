"""Top-level URLs: operations endpoints, the API, and the web pages of each app."""

from django.urls import include, path
from django.views.i18n import set_language

from crm.api import api
from crm.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics_view, name="metrics"),
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("crm.web.urls")),
    path("identity/", include("crm.identity.urls")),
    path("audit/", include("crm.core.audit_urls")),
    path("customers/", include("crm.customers.urls")),
]

handler404 = "crm.web.views.not_found"
handler500 = "crm.web.views.server_error"
handler403 = "crm.web.views.forbidden"
handler400 = "crm.web.views.bad_request"
