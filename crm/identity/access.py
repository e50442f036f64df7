"""Identity models under the access layer: who may see and manage users, teams, roles and tokens.

Object types: "identity.user", "identity.department", "identity.team", "identity.role",
"identity.apitoken". The built-in roles' grants on them live in builtin_roles.py (access helper).
A user's own tokens are always manageable by that user (see selectors.tokens_for).
"""

from __future__ import annotations

from crm.core import access
from crm.identity.models import ApiToken, Department, Role, Team, User


def register_identity_models() -> None:
    # "own" user = oneself; team/department scopes follow the user's team and department.
    access.register(User, owner_field="id", team_field="team", department_field="department")
    access.register(Department, owner_field="members", team_field="teams", department_field="id")
    access.register(Team, owner_field="members", team_field="id", department_field="department")
    # Roles belong to no one: "own" = the role one holds; wider scopes need ALL.
    access.register(Role, owner_field="users", team_field=None, department_field=None)
    # Tokens are personal: a manager does not reach the team's tokens (administrators revoke them).
    access.register(
        ApiToken,
        owner_field="user",
        team_field="user__team",
        department_field="user__department",
        manager_reach=False,
    )
