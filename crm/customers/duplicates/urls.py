"""Duplicates review queue, under /customers/duplicates/."""

from django.urls import path

from crm.customers.duplicates import views

app_name = "duplicates"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:candidate_id>/", views.compare, name="compare"),
    path("<int:candidate_id>/merge/", views.merge, name="merge"),
    path("<int:candidate_id>/dismiss/", views.dismiss, name="dismiss"),
]
