"""The built-in roles and what they grant: the expected permission table, kept in code.

`PERMISSIONS[object_type][role_code]` maps verb -> Scope; a verb that is absent is not granted.
Every model registered with the access layer must have a row here (all four roles listed,
possibly empty) or the permission-matrix test fails. `sync_builtin_roles()` runs after every
migrate and makes the database match this table; `crm permissions docs` renders it into
docs/permissions.md.

Shape of the defaults: customers are visible company-wide (view ALL) to every role, members
change their own (OWN), managers their team's (TEAM, plus the team they manage), administrators
everything. Reference data (products, need types, tags, custom fields, teams, departments) has
no owner, so only ALL applies. The built-in roles hide no field; field rules are per custom role.
"""

from __future__ import annotations

from typing import Any

from crm.core.access import VERBS, Scope

ROLES: dict[str, tuple[str, str]] = {
    "administrator": ("Administrator", "Everything, company-wide."),
    "manager": ("Manager", "Sees customers company-wide; manages the records of the team."),
    "member": ("Member", "Sees customers company-wide; works on own records."),
    "read_only": ("Read-only", "Sees, changes nothing."),
}

OWN, TEAM, DEPT, ALL = Scope.OWN, Scope.TEAM, Scope.DEPARTMENT, Scope.ALL
Grants = dict[str, Scope]


def _everything(scope: Scope = ALL) -> Grants:
    return dict.fromkeys(VERBS, scope)


def _customer_record(*, member_delete: bool = False) -> dict[str, Grants]:
    """A customer or a record that follows its customer (contact, need, order...)."""
    member: Grants = {"view": ALL, "create": OWN, "change": OWN, "export": OWN}
    if member_delete:
        member["delete"] = OWN
    return {
        "administrator": _everything(),
        "manager": {
            "view": ALL,
            "create": TEAM,
            "change": TEAM,
            "delete": TEAM,
            "export": TEAM,
            "import": TEAM,
            "assign": TEAM,
        },
        "member": member,
        "read_only": {"view": ALL},
    }


def _reference_data(*, manager_writes: bool, member_creates: bool = False) -> dict[str, Grants]:
    """Unowned lists everybody reads (products, need types, tags): only ALL applies."""
    manager: Grants = {"view": ALL, "export": ALL}
    if manager_writes:
        manager |= {"create": ALL, "change": ALL, "import": ALL}
    member: Grants = {"view": ALL}
    if member_creates:
        member["create"] = ALL
    return {"administrator": _everything(), "manager": manager, "member": member, "read_only": {"view": ALL}}


def _personal(*, read_only_writes: bool = True) -> dict[str, Grants]:
    """Records that belong to one user (saved views, jobs, tokens): each sees and manages their own."""
    own: Grants = {"view": OWN, "create": OWN, "change": OWN, "delete": OWN}
    return {
        "administrator": _everything(),
        "manager": {**own, "view": TEAM},
        "member": dict(own),
        "read_only": dict(own) if read_only_writes else {"view": OWN},
    }


def _admin_only(*, everyone_views: bool = False, manager_views: bool = False) -> dict[str, Grants]:
    view: Grants = {"view": ALL}
    return {
        "administrator": _everything(),
        "manager": dict(view) if (everyone_views or manager_views) else {},
        "member": dict(view) if everyone_views else {},
        "read_only": dict(view) if everyone_views else {},
    }


PERMISSIONS: dict[str, dict[str, Grants]] = {
    # --- customers ---
    "customers.customer": _customer_record(),
    "customers.customerchannel": _customer_record(member_delete=True),
    "customers.contact": _customer_record(member_delete=True),
    "customers.need": _customer_record(),
    "customers.order": _customer_record(),
    "customers.orderline": _customer_record(),
    "customers.refund": _customer_record(),
    "customers.customerscore": {
        "administrator": {"view": ALL, "export": ALL},
        "manager": {"view": ALL, "export": TEAM},
        "member": {"view": ALL},
        "read_only": {"view": ALL},
    },
    "customers.needtype": _reference_data(manager_writes=False),
    "customers.product": _reference_data(manager_writes=True),
    "customers.tag": _reference_data(manager_writes=True, member_creates=True),
    "customers.segment": {
        "administrator": _everything(),
        "manager": {"view": ALL, "create": OWN, "change": TEAM, "delete": TEAM, "export": TEAM},
        "member": {"view": ALL, "create": OWN, "change": OWN, "delete": OWN},
        "read_only": {"view": ALL},
    },
    "customers.savedview": _personal(),
    "customers.importjob": {
        "administrator": _everything(),
        "manager": {"view": TEAM, "create": TEAM, "change": TEAM},
        "member": {"view": OWN},
        "read_only": {},
    },
    "customers.exportjob": {
        "administrator": _everything(),
        "manager": {"view": TEAM, "create": TEAM, "delete": TEAM},
        "member": {"view": OWN, "create": OWN, "delete": OWN},
        "read_only": {},
    },
    "customers.duplicatecandidate": {
        "administrator": _everything(),
        "manager": {"view": ALL, "change": ALL},
        "member": {"view": ALL},
        "read_only": {},
    },
    # --- core ---
    "core.customfielddefinition": _admin_only(everyone_views=True),
    "core.auditentry": {
        "administrator": {"view": ALL, "export": ALL},
        "manager": {},
        "member": {},
        "read_only": {},
    },
    # --- identity ---
    "identity.user": _admin_only(everyone_views=True),
    "identity.department": _admin_only(everyone_views=True),
    "identity.team": _admin_only(everyone_views=True),
    "identity.role": _admin_only(manager_views=True),
    "identity.apitoken": {
        "administrator": {"view": ALL, "create": OWN, "delete": ALL},
        "manager": {"view": OWN, "create": OWN, "delete": OWN},
        "member": {"view": OWN, "create": OWN, "delete": OWN},
        "read_only": {"view": OWN, "create": OWN, "delete": OWN},
    },
}


def expected_scope(object_type: str, role: str, verb: str) -> Scope | None:
    """What the table says `role` may do: the scope, or None when not granted."""
    return PERMISSIONS.get(object_type, {}).get(role, {}).get(verb)


def role_grants(role: str) -> dict[str, Grants]:
    return {ot: dict(by_role.get(role, {})) for ot, by_role in PERMISSIONS.items() if by_role.get(role)}


# role code -> (name, description, {object_type: {verb: scope}}): the shape sync and docs read.
BUILTIN_ROLES: dict[str, tuple[str, str, dict[str, Grants]]] = {
    code: (name, description, role_grants(code)) for code, (name, description) in ROLES.items()
}


def render_markdown() -> str:
    """The table as Markdown, for docs/permissions.md (kept from drifting by a test)."""
    letters = {OWN: "own", TEAM: "team", DEPT: "dept", ALL: "all"}
    lines = [
        "# Permissions of the built-in roles",
        "",
        "Generated from `crm/identity/builtin_roles.py` by `crm permissions docs`; do not edit by hand.",
        "Each cell is the record scope a role gets for a verb: own (records the user owns), team",
        "(owned by the user's team), dept (the user's department), all; `-` means not granted.",
        "Managers also reach the records of the team they manage; records shared with a team or",
        "department reach its members. API tokens may narrow these rights further.",
        "",
    ]
    for object_type in sorted(PERMISSIONS):
        lines += [f"## `{object_type}`", "", "| role | " + " | ".join(VERBS) + " |"]
        lines.append("|---" * (len(VERBS) + 1) + "|")
        for role in ROLES:
            cells = [letters.get(expected_scope(object_type, role, verb), "-") for verb in VERBS]  # type: ignore[arg-type]
            lines.append(f"| {role} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


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
            current = existing.get((object_type, verb))
            if current is None:
                RolePermission.objects.create(role=role, object_type=object_type, verb=verb, scope=int(scope))
            elif current.scope != int(scope):
                current.scope = int(scope)
                current.save(update_fields=["scope"])
