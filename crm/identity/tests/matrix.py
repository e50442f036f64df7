"""How the permission matrix reaches identity's models over HTTP (see crm/testing/matrix.py).

Departments, teams and roles are reference data the built-in roles grant only at scope ALL, so
their factories make a fresh record whatever the relation; a user's "own" record is the user.
"""

from __future__ import annotations

import itertools
from typing import Any

from crm.identity.models import ApiToken, Department, Role, Team
from crm.identity.tokens import create_token
from crm.testing import matrix

_n = itertools.count(1)


def make_department(owner: Any) -> Department:
    n = next(_n)
    return Department.objects.create(name=f"矩阵部门{n}", code=f"matrix-dept-{n}")


def make_team(owner: Any) -> Team:
    return Team.objects.create(department=make_department(owner), name=f"矩阵团队{next(_n)}")


def make_role(owner: Any) -> Role:
    n = next(_n)
    return Role.objects.create(name=f"矩阵角色{n}", code=f"matrix-role-{n}")


def make_token(owner: Any) -> ApiToken:
    token, _secret = create_token(owner, name=f"matrix {next(_n)}", actor=owner)
    return token


def _patch(field: str, value: str) -> Any:
    return lambda obj: {field: value, "version": obj.version}


matrix.register(
    matrix.Reach(
        "identity.user",
        make=lambda owner: owner,
        probes={
            "view": [
                matrix.api_detail("/api/v1/users/{pk}"),
                matrix.api_list("/api/v1/users?q={obj.username}"),
            ],
            "change": [matrix.api_patch("/api/v1/users/{pk}", _patch("display_name", "改名"))],
            "create": [matrix.api_create("/api/v1/users", lambda owner: {"username": f"new-{owner.pk}"})],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.department",
        make=make_department,
        probes={
            "view": [matrix.api_detail("/api/v1/departments/{pk}")],
            "change": [matrix.api_patch("/api/v1/departments/{pk}", _patch("name", "改名部门"))],
            "delete": [matrix.api_delete("/api/v1/departments/{pk}")],
            "create": [matrix.api_create("/api/v1/departments", lambda owner: {"name": "新部门", "code": "new-dept"})],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.team",
        make=make_team,
        probes={
            "view": [matrix.api_detail("/api/v1/teams/{pk}")],
            "change": [matrix.api_patch("/api/v1/teams/{pk}", _patch("name", "改名团队"))],
            "delete": [matrix.api_delete("/api/v1/teams/{pk}")],
            "create": [
                matrix.api_create(
                    "/api/v1/teams", lambda owner: {"name": "新团队", "department_id": owner.department_id}
                )
            ],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.role",
        make=make_role,
        probes={
            "view": [matrix.api_detail("/api/v1/roles/{pk}")],
            "change": [matrix.api_patch("/api/v1/roles/{pk}", _patch("description", "改"))],
            "delete": [matrix.api_delete("/api/v1/roles/{pk}")],
            "create": [matrix.api_create("/api/v1/roles", lambda owner: {"name": "新角色", "code": "new-role"})],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.apitoken",
        make=make_token,
        probes={
            "view": [matrix.api_list("/api/v1/tokens?all=true&limit=200")],
            "delete": [matrix.api_delete("/api/v1/tokens/{pk}")],
            "create": [matrix.api_create("/api/v1/tokens", lambda owner: {"name": "新令牌"})],
        },
    )
)
