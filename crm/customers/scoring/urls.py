"""Pages under /customers/scores/."""

from django.urls import path

from crm.customers.scoring import views

urlpatterns = [
    path("", views.analytics_page, name="scores-analytics"),
    path("analytics.json", views.analytics_json, name="scores-analytics-json"),
    path("contact-today/", views.contact_today_page, name="scores-contact-today"),
]
