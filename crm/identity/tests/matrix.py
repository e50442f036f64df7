"""How the permission matrix reaches identity's models over HTTP (see crm/testing/matrix.py)."""

from __future__ import annotations

import itertools
from typing import Any

from crm.identity.models import ApiToken, Department, Role, Team, User
from crm.identity.tokens import create_token
from crm.testing import matrix

_n = itertools.count(1)


def make_user_record(owner: Any) -> User:
    # A user's "own" user record is itself.
    return owner


def make_department(owner: Any) -> Department:
    n = next(_n)
    return Department.objects.create(name=f"矩阵部门{n}", code=f"matrix-dept-{n}")


def make_team(owner: Any) -> Team:
    return Team.objects.create(department=owner.department, name=f"矩阵组{next(_n)}")


def make_role(owner: Any) -> Role:
    n = next(_n)
    return Role.objects.create(name=f"矩阵角色{n}", code=f"matrix-role-{n}")


def make_api_token(owner: Any) -> ApiToken:
    token, _secret = create_token(owner, name=f"matrix-{next(_n)}", actor=None)
    return token


def _prefix_shown(response: Any, token: Any) -> bool:
    return f"{token.prefix}…".encode() in response.content


matrix.register(
    matrix.Reach(
        "identity.user",
        make=make_user_record,
        probes={
            "view": [
                matrix.api_detail("/api/v1/users/{pk}"),
                matrix.api_list("/api/v1/users?q={obj.username}"),
                matrix.page("/identity/admin/users/{pk}/"),
            ],
            "change": [
                matrix.api_patch("/api/v1/users/{pk}", lambda obj: {"display_name": "改名", "version": obj.version})
            ],
            "create": [
                matrix.api_create(
                    "/api/v1/users", lambda owner: {"username": f"new-{owner.pk}", "password": "a-long-Passw0rd!"}
                )
            ],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.department",
        make=make_department,
        probes={
            "view": [
                matrix.api_detail("/api/v1/departments/{pk}"),
                matrix.api_list("/api/v1/departments?limit=500"),
                matrix.page("/identity/admin/departments/{pk}/"),
            ],
            "change": [
                matrix.api_patch(
                    "/api/v1/departments/{pk}", lambda obj: {"name": f"{obj.name}改", "version": obj.version}
                )
            ],
            "delete": [matrix.api_delete("/api/v1/departments/{pk}")],
            "create": [matrix.api_create("/api/v1/departments", lambda owner: {"name": f"新部门{owner.pk}"})],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.team",
        make=make_team,
        probes={
            "view": [
                matrix.api_detail("/api/v1/teams/{pk}"),
                matrix.api_list("/api/v1/teams?limit=500"),
                matrix.page("/identity/admin/teams/{pk}/"),
            ],
            "change": [
                matrix.api_patch("/api/v1/teams/{pk}", lambda obj: {"name": f"{obj.name}改", "version": obj.version})
            ],
            "delete": [matrix.api_delete("/api/v1/teams/{pk}")],
            "create": [
                matrix.api_create(
                    "/api/v1/teams", lambda owner: {"name": f"新组{owner.pk}", "department_id": owner.department_id}
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
            "view": [
                matrix.api_detail("/api/v1/roles/{pk}"),
                matrix.api_list("/api/v1/roles?limit=500"),
                matrix.page("/identity/admin/roles/{pk}/"),
            ],
            "change": [
                matrix.api_patch("/api/v1/roles/{pk}", lambda obj: {"description": "改", "version": obj.version})
            ],
            "delete": [matrix.api_delete("/api/v1/roles/{pk}")],
            "create": [matrix.api_create("/api/v1/roles", lambda owner: {"name": f"新角色{owner.pk}"})],
        },
    )
)

matrix.register(
    matrix.Reach(
        "identity.apitoken",
        make=make_api_token,
        probes={
            "view": [
                matrix.api_list("/api/v1/tokens?all=true&limit=500"),
                matrix.page("/identity/admin/tokens/", contains=_prefix_shown),
            ],
            "delete": [matrix.api_delete("/api/v1/tokens/{pk}")],
            "create": [matrix.api_create("/api/v1/tokens", lambda owner: {"name": "矩阵"})],
        },
    )
)
