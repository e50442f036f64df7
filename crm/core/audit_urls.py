from django.urls import path

from crm.core import audit_views

app_name = "audit"

urlpatterns = [
    path("", audit_views.audit_page, name="log"),
    path("export.csv", audit_views.audit_export, name="export"),
]
