"""Customer pages; import/export, duplicates, scoring and segments keep their own URL modules."""

from django.urls import include, path

app_name = "customers"

urlpatterns = [
    path("imports/", include("crm.customers.transfer.urls")),
    path("duplicates/", include("crm.customers.duplicates.urls")),
    path("scores/", include("crm.customers.scoring.urls")),
    path("segments/", include("crm.customers.segments.urls")),
]
