"""Customer pages; import/export, duplicates, scoring and segments keep their own URL modules."""

from django.urls import include, path

from crm.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("search/", views.search, name="search"),
    path("validate/", views.validate_field, name="validate"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("views/save/", views.save_view, name="view-save"),
    path("views/<int:view_id>/", views.open_view, name="view-open"),
    path("views/<int:view_id>/delete/", views.delete_view, name="view-delete"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/notes/", views.add_note, name="note"),
    path("<int:customer_id>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:customer_id>/contacts/new/", views.contact_create, name="contact-create"),
    path("<int:customer_id>/needs/new/", views.need_create, name="need-create"),
    path("<int:customer_id>/orders/new/", views.order_create, name="order-create"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/delete/", views.contact_delete, name="contact-delete"),
    path("needs/<int:need_id>/edit/", views.need_edit, name="need-edit"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("orders/<int:order_id>/refund/", views.order_refund, name="order-refund"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<int:order_id>/edit/", views.order_edit, name="order-edit"),
    path("products/", views.product_list, name="products"),
    path("products/<int:product_id>/", views.product_edit, name="product-edit"),
    path("need-types/", views.need_type_list, name="need-types"),
    path("custom-fields/", views.custom_field_list, name="custom-fields"),
    path("imports/", include("crm.customers.transfer.urls")),
    path("duplicates/", include("crm.customers.duplicates.urls")),
    path("scores/", include("crm.customers.scoring.urls")),
    path("segments/", include("crm.customers.segments.urls")),
]
