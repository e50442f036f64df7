"""The permission matrix: how to reach each registered model over HTTP, and the generator that checks it.

`crm/core/tests/test_permission_matrix.py` checks, for every model registered with the access
layer × every verb × every built-in role × every relation (own record, same team, other team,
other department, anonymous), that the outcome matches `crm.identity.builtin_roles.PERMISSIONS`:

1. at the access layer (`visible_to`) — for every registered model, always; and
2. over the real HTTP API and pages — for every verb an area declared a probe for.

A registered model without a row in PERMISSIONS, or without an entry here, fails the suite.

Adding an entry (in your app's ``tests/matrix.py``, found automatically — ``crm.<app>.tests.matrix``
or ``crm.<app>.<sub>.tests.matrix``)::

    from crm.testing import matrix

    def make_customer(owner):            # a record "owned" by `owner` (ignore it if unowned)
        return Customer.objects.create(name="x", owner=owner)

    matrix.register(matrix.Reach(
        "customers.customer",
        make=make_customer,
        probes={
            "view": [matrix.api_detail("/api/v1/customers/{pk}"), matrix.api_list("/api/v1/customers"),
                     matrix.page("/customers/{pk}/")],
            "change": [matrix.api_patch("/api/v1/customers/{pk}", lambda obj: {"city": "杭州",
                                                                                "version": obj.version})],
            "delete": [matrix.api_delete("/api/v1/customers/{pk}")],
            "create": [matrix.api_create("/api/v1/customers", lambda owner: {"name": "新客户"})],
            "export": [matrix.api_export("/api/v1/customers/export?ids={pk}")],
        },
    ))

A probe performs the act as the given client and answers whether it was allowed: 200/201/204
mean allowed; 403/404 (and 401 or a redirect to the login page for the anonymous client) mean
refused; any other status fails the test (a 500 or a 422 is a bug in the probe or the endpoint).
`api_list` / `api_export` answer "allowed" when the record appears in the response.

`create` probes get the owner of the relation instead of a record; by default only the "own"
relation and anonymous are checked for create (pass ``relations=`` to check more, e.g. when the
payload can name another owner and the API must refuse it without `assign`).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.test import Client

RELATIONS = ("own", "same_team", "other_team", "other_department", "anonymous")
ALLOWED = {200, 201, 204}
REFUSED = {403, 404}


class UnexpectedStatus(AssertionError):
    pass


@dataclass(frozen=True)
class Probe:
    """One way to attempt a verb over HTTP. `run(client, target)` → allowed?"""

    label: str
    run: Callable[[Client, Any], bool]
    relations: tuple[str, ...] = RELATIONS
    # create probes receive the owner (a user), the others the record
    needs_owner: bool = False
    # pages are visited with a logged-in browser session, API probes with a bearer token
    is_page: bool = False


@dataclass(frozen=True)
class Reach:
    object_type: str
    make: Callable[[Any], models.Model]
    probes: dict[str, list[Probe]] = field(default_factory=dict)


_entries: dict[str, Reach] = {}


def register(reach: Reach) -> Reach:
    _entries[reach.object_type] = reach
    return reach


def entries() -> dict[str, Reach]:
    discover()
    return dict(_entries)


_discovered = False


def discover() -> None:
    """Import every `crm.<app>[.<sub>].tests.matrix` module so its entries register themselves."""
    global _discovered
    if _discovered:
        return
    import crm

    for info in pkgutil.walk_packages(crm.__path__, prefix="crm."):
        if info.name.endswith(".tests.matrix"):
            importlib.import_module(info.name)
    _discovered = True


# --- outcome helpers ---------------------------------------------------------------------------


def outcome(response: Any, *, anonymous_page: bool = False) -> bool:
    status = response.status_code
    if status in ALLOWED:
        return True
    if status in REFUSED or status == 401:
        return False
    if anonymous_page and status in (301, 302) and "login" in response.get("Location", ""):
        return False
    body = getattr(response, "content", b"")[:300]
    raise UnexpectedStatus(
        f"{response.request.get('REQUEST_METHOD')} {response.request.get('PATH_INFO')}: {status} {body!r}"
    )


def _url(template: str, obj: Any) -> str:
    return template.format(pk=obj.pk, obj=obj)


def _items(response: Any) -> list[Any]:
    data = response.json()
    return list(data.get("items", []) if isinstance(data, dict) else data)


def default_row_matches(row: Any, obj: Any) -> bool:
    return isinstance(row, dict) and str(row.get("id")) == str(obj.pk)


# --- probe builders ----------------------------------------------------------------------------


def api_detail(template: str) -> Probe:
    return Probe(f"GET {template}", lambda client, obj: outcome(client.get(_url(template, obj))))


def api_list(template: str, *, matches: Callable[[Any, Any], bool] = default_row_matches) -> Probe:
    """The record appears in the (first page of the) list; a refused list (403/404) counts as not."""

    def run(client: Client, obj: Any) -> bool:
        response = client.get(_url(template, obj))
        if not outcome(response):
            return False
        return any(matches(row, obj) for row in _items(response))

    return Probe(f"GET {template} (list)", run)


def api_patch(template: str, payload: Callable[[Any], dict[str, Any]]) -> Probe:
    def run(client: Client, obj: Any) -> bool:
        response = client.patch(_url(template, obj), json.dumps(payload(obj)), content_type="application/json")
        return outcome(response)

    return Probe(f"PATCH {template}", run)


def api_delete(template: str) -> Probe:
    def run(client: Client, obj: Any) -> bool:
        allowed = outcome(client.delete(_url(template, obj)))
        still_there = type(obj)._default_manager.filter(pk=obj.pk).exists()
        if not allowed and not still_there:
            raise UnexpectedStatus(f"DELETE {template} was refused but the row is gone")
        return allowed

    return Probe(f"DELETE {template}", run)


def api_create(
    template: str, payload: Callable[[Any], dict[str, Any]], *, relations: Iterable[str] = ("own", "anonymous")
) -> Probe:
    def run(client: Client, owner: Any) -> bool:
        response = client.post(template, json.dumps(payload(owner)), content_type="application/json")
        return outcome(response)

    return Probe(f"POST {template}", run, relations=tuple(relations), needs_owner=True)


def api_export(template: str, *, contains: Callable[[Any, Any], bool] | None = None) -> Probe:
    """An export that includes the record when allowed (default: its id as a CSV cell or JSON row)."""

    def default_contains(response: Any, obj: Any) -> bool:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8-sig")
        if response.get("Content-Type", "").startswith("application/json"):
            data = json.loads(text)
            rows = data.get("items", []) if isinstance(data, dict) else data
            return any(default_row_matches(row, obj) for row in rows)
        return any(line.split(",", 1)[0].strip('"') == str(obj.pk) for line in text.splitlines()[1:])

    check = contains or default_contains

    def run(client: Client, obj: Any) -> bool:
        response = client.get(_url(template, obj))
        if not outcome(response):
            return False
        return check(response, obj)

    return Probe(f"GET {template} (export)", run)


def page(template: str, *, contains: Callable[[Any, Any], bool] | None = None) -> Probe:
    """An HTML page: 200 (and, when given, the record shown) = allowed; 404 / login redirect = refused."""

    def run(client: Client, obj: Any) -> bool:
        response = client.get(_url(template, obj))
        if not outcome(response, anonymous_page=True):
            return False
        return contains(response, obj) if contains is not None else True

    return Probe(f"page {template}", run, is_page=True)


# --- the organisation every cell is played in --------------------------------------------------


@dataclass
class Org:
    """Department A (teams A1, A2) and department B (team B1); `owners` maps relation → record owner."""

    departments: dict[str, Any]
    teams: dict[str, Any]
    owners: dict[str, Any]

    def actor(self, role_code: str) -> Any:
        """A user of team A1 with the built-in role (a manager also manages A1)."""
        from crm.identity.models import Role
        from crm.testing.factories import make_user

        role = Role.objects.get(code=role_code)
        team = self.teams["A1"]
        return make_user(
            username=f"actor-{role_code}",
            role=role,
            team=team,
            department=team.department,
            manager_of=team if role_code == "manager" else None,
        )


def build_org() -> Org:
    from crm.identity.models import Department, Role, Team
    from crm.testing.factories import make_user

    dept_a = Department.objects.create(name="Matrix A", code="matrix-a")
    dept_b = Department.objects.create(name="Matrix B", code="matrix-b")
    teams = {
        "A1": Team.objects.create(department=dept_a, name="A1"),
        "A2": Team.objects.create(department=dept_a, name="A2"),
        "B1": Team.objects.create(department=dept_b, name="B1"),
    }
    member = Role.objects.get(code="member")
    owners = {
        relation: make_user(
            username=f"owner-{relation}", role=member, team=teams[team], department=teams[team].department
        )
        for relation, team in (("same_team", "A1"), ("other_team", "A2"), ("other_department", "B1"))
    }
    return Org(departments={"A": dept_a, "B": dept_b}, teams=teams, owners=owners)
