"""Pages under /customers/segments/."""

from django.urls import path

from crm.customers.segments import views

urlpatterns = [
    path("", views.segment_list, name="segments-list"),
    path("new/", views.segment_builder, name="segments-new"),
    path("preview/", views.segment_preview, name="segments-preview"),
    path("condition-row/", views.condition_row, name="segments-condition-row"),
    path("<int:segment_id>/", views.segment_detail, name="segments-detail"),
    path("<int:segment_id>/edit/", views.segment_builder, name="segments-edit"),
    path("<int:segment_id>/members/", views.segment_members, name="segments-members"),
    path("<int:segment_id>/delete/", views.segment_delete, name="segments-delete"),
]
