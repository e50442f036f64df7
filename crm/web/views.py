"""Shell pages: login, logout, home, module landing pages, friendly error pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from crm.core.middleware import is_api_path
from crm.core.problems import problem_response
from crm.web.context_processors import navigation
from crm.web.modules import MODULE_PAGES


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


login_view = LoginView.as_view()


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    logout(request)
    return redirect("web:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    links = {item["key"]: item["url"] for item in navigation(request)["nav_items"]}
    modules = [
        {"key": key, "title": page.title, "summary": page.summary, "url": links.get(key)}
        for key, page in MODULE_PAGES.items()
        if key in links and key != "admin"
    ]
    return render(request, "web/home.html", {"modules": modules})


@login_required
def module_page(request: HttpRequest, module: str) -> HttpResponse:
    page = MODULE_PAGES[module]
    return render(request, "web/module.html", {"page": page, "panels": page.panels(request)})


def _error(request: HttpRequest, status: int, template: str, title: Any, detail: Any) -> HttpResponse:
    if is_api_path(request.path):
        return problem_response(status, title, detail)
    return render(request, template, {"status": status, "title": title, "detail": detail}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.utils.translation import gettext as _

    return _error(
        request, 404, "web/error.html", _("Page not found"), _("The page does not exist, or you may not see it.")
    )


def server_error(request: HttpRequest) -> HttpResponse:
    from django.utils.translation import gettext as _

    title, detail = _("Server error"), _("Something went wrong on our side; it has been logged.")
    try:
        return _error(request, 500, "web/error.html", title, detail)
    except Exception:  # noqa: BLE001 - the failure may be the database the layout needs: answer plainly
        html = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        html += f"<body><h1>{title}</h1><p>{detail}</p><p><a href='/'>CRM</a></p></body></html>"
        return HttpResponse(html, status=500)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.utils.translation import gettext as _

    return _error(request, 403, "web/error.html", _("Not allowed"), _("You may not do this."))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.utils.translation import gettext as _

    return _error(request, 400, "web/error.html", _("Bad request"), _("The request could not be understood."))
