"""Import wizard and export download, under /customers/imports/."""

from django.urls import path

from crm.customers.transfer import views

app_name = "transfer"

urlpatterns = [
    path("", views.imports, name="imports"),
    path("<int:job_id>/", views.job_detail, name="job"),
    path("<int:job_id>/run/", views.job_run, name="run"),
    path("<int:job_id>/cancel/", views.job_cancel, name="cancel"),
    path("<int:job_id>/errors.csv", views.job_errors, name="errors"),
    path("export/", views.export_download, name="export"),
]
