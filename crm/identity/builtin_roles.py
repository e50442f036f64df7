"""The built-in roles and what they grant: the expected permission table, kept in code.

`sync_builtin_roles()` runs after every migrate and makes the database match this table.
"""

from __future__ import annotations

from typing import Any

from crm.core.access import Scope

# role code -> (name, description, {object_type: {verb: scope}})
BUILTIN_ROLES: dict[str, tuple[str, str, dict[str, dict[str, Scope]]]] = {
    "administrator": ("Administrator", "Everything, company-wide.", {}),
    "manager": ("Manager", "Sees and manages the team's records.", {}),
    "member": ("Member", "Works on own records; sees shared customers.", {}),
    "read_only": ("Read-only", "Sees, changes nothing.", {}),
}


def sync_builtin_roles(**kwargs: Any) -> None:
    from crm.identity.models import Role, RolePermission

    for code, (name, description, grants) in BUILTIN_ROLES.items():
        role, _ = Role.objects.update_or_create(
            code=code, defaults={"name": name, "description": description, "is_builtin": True}
        )
        wanted = {(ot, verb): scope for ot, verbs in grants.items() for verb, scope in verbs.items()}
        existing = {(p.object_type, p.verb): p for p in RolePermission.objects.filter(role=role)}
        for key, perm in existing.items():
            if key not in wanted:
                perm.delete()
        for (object_type, verb), scope in wanted.items():
            RolePermission.objects.update_or_create(
                role=role, object_type=object_type, verb=verb, defaults={"scope": int(scope)}
            )
