"""The generated permission matrix: registered model × verb × built-in role × relation, at the access
layer and over HTTP, against the expected table in crm/identity/builtin_roles.py (see crm/testing/matrix.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import Client

from crm.core import access
from crm.core.access import VERBS, AccessSpec, Scope
from crm.identity.builtin_roles import PERMISSIONS, ROLES, expected_scope
from crm.testing import matrix
from crm.testing.factories import make_token

CELLS: Counter[str] = Counter()
OBJECT_TYPES = [spec.object_type for spec in access.registered_specs()]


def reaches(spec: AccessSpec, scope: Scope | None, relation: str, *, manages_own_team: bool = False) -> bool:
    """What the table promises: may a user with `scope` act on a record in `relation` to them?

    The actor sits in team A1; a manager also manages A1, which adds A1's records at any scope.
    """
    if relation == "anonymous" or scope is None:
        return False
    if scope is Scope.ALL:
        return True
    if manages_own_team and spec.manager_reach and spec.team_field and relation in ("own", "same_team"):
        return True
    by_owner = relation == "own" and bool(spec.owner_field)
    by_team = relation in ("own", "same_team") and scope >= Scope.TEAM and bool(spec.team_field)
    by_department = relation != "other_department" and scope >= Scope.DEPARTMENT and bool(spec.department_field)
    return by_owner or by_team or by_department


@pytest.fixture(scope="module", autouse=True)
def _report_cells(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and CELLS:
        summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(CELLS.items()))
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(f"permission matrix cells checked — {summary}; total {sum(CELLS.values())}")


def test_every_registered_model_has_expectations() -> None:
    # given every model registered with the access layer
    missing_rows = [ot for ot in OBJECT_TYPES if ot not in PERMISSIONS]
    incomplete = [ot for ot in OBJECT_TYPES if ot in PERMISSIONS and set(PERMISSIONS[ot]) != set(ROLES)]
    # then each has a row for every built-in role in the expected table
    assert not missing_rows, f"add these object types to crm/identity/builtin_roles.py PERMISSIONS: {missing_rows}"
    assert not incomplete, f"list all built-in roles (an empty dict = nothing) for: {incomplete}"


def test_every_registered_model_can_be_reached_by_the_matrix() -> None:
    entries = matrix.entries()
    missing = [ot for ot in OBJECT_TYPES if ot not in entries]
    assert not missing, f"add an entry to crm/<app>/tests/matrix.py (see crm/testing/matrix.py) for: {missing}"


def test_table_names_only_known_verbs_and_scopes() -> None:
    for object_type, by_role in PERMISSIONS.items():
        for role, grants in by_role.items():
            assert role in ROLES, (object_type, role)
            assert set(grants) <= set(VERBS), (object_type, role, grants)
            assert all(isinstance(scope, Scope) for scope in grants.values())


@pytest.mark.django_db
def test_database_roles_match_the_table() -> None:
    from crm.identity.models import RolePermission

    for role in ROLES:
        stored = {(p.object_type, p.verb): Scope(p.scope) for p in RolePermission.objects.filter(role__code=role)}
        wanted = {
            (ot, verb): scope for ot, by_role in PERMISSIONS.items() for verb, scope in by_role.get(role, {}).items()
        }
        assert stored == wanted, role


def _in_savepoint(run: Any) -> Any:
    """Play one HTTP cell and undo whatever it wrote, so each cell starts from the same rows."""
    with transaction.atomic():
        try:
            return run()
        finally:
            transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_matrix(object_type: str, role: str) -> None:
    spec = next(s for s in access.registered_specs() if s.object_type == object_type)
    reach = matrix.entries().get(object_type)
    if reach is None:
        pytest.fail(f"{object_type} has no crm/testing/matrix.py entry")
    # given an organisation, an actor with the role in team A1 and one record per relation
    org = matrix.build_org()
    actor = org.actor(role)
    owners = {"own": actor, **org.owners, "anonymous": org.owners["same_team"]}
    records = {relation: reach.make(owner) for relation, owner in owners.items()}
    api = Client(headers={"Authorization": f"Bearer {make_token(actor)}"})
    browser = Client()
    browser.force_login(actor)
    anonymous = Client()
    failures: list[str] = []

    for verb in VERBS:
        scope = expected_scope(object_type, role, verb)
        for relation in matrix.RELATIONS:
            expected = reaches(spec, scope, relation, manages_own_team=role == "manager")
            record = records[relation]
            # when the access layer is asked
            who = AnonymousUser() if relation == "anonymous" else actor
            actual = access.visible_to(who, verb, type(record)).filter(pk=record.pk).exists()
            CELLS["access layer"] += 1
            # then it answers what the table says
            if actual != expected:
                failures.append(f"layer {verb} {relation}: expected {expected}, got {actual}")
            # and every declared HTTP probe agrees
            for probe in reach.probes.get(verb, []):
                if relation not in probe.relations:
                    continue
                client = anonymous if relation == "anonymous" else (browser if probe.is_page else api)
                target = owners[relation] if probe.needs_owner else record
                try:
                    allowed = _in_savepoint(lambda p=probe, c=client, t=target: p.run(c, t))
                except matrix.UnexpectedStatus as exc:
                    failures.append(f"{probe.label} {verb} {relation}: {exc}")
                    continue
                CELLS["HTTP"] += 1
                if allowed != expected:
                    failures.append(f"{probe.label} {verb} {relation}: expected {expected}, got {allowed}")
    assert not failures, f"{object_type} as {role}:\n" + "\n".join(failures)
