from django.urls import path

from crm.identity import views as identity_views
from crm.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", identity_views.login_view, name="login"),
    path("logout/", identity_views.logout_view, name="logout"),
    path("sales/", views.module_page, {"module": "sales"}, name="module-sales"),
    path("service/", views.module_page, {"module": "service"}, name="module-service"),
    path("marketing/", views.module_page, {"module": "marketing"}, name="module-marketing"),
    path("collaboration/", views.module_page, {"module": "collaboration"}, name="module-collaboration"),
    path("analytics/", views.module_page, {"module": "analytics"}, name="module-analytics"),
    path("customers-home/", views.module_page, {"module": "customers"}, name="module-customers"),
    path("administration/", views.module_page, {"module": "admin"}, name="module-admin"),
]
