"""Demo users in four departments with built-in roles (every password is CRM_DEMO_PASSWORD).

Logins: admin (superuser), salesmgr1/salesmgr2 (sales managers of 一组/二组), sales1-sales4,
servicemgr1, service1-service3, marketingmgr1, marketing1-marketing2, viewer (read-only), boss (management).
`ctx.state` gets "departments" (code → Department), "teams" ((code, name) → Team) and "users" (username → User).
"""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.auth.hashers import make_password

from crm.demo.registry import DemoContext, generator
from crm.identity.models import Department, Role, Team, User

DEPARTMENTS = (
    ("sales", "销售部", ("一组", "二组")),
    ("service", "客服部", ("一组", "二组")),
    ("marketing", "市场部", ("一组",)),
    ("management", "管理层", ("管理组",)),
)

# username, display name, department code, team, role code, manages team
USERS = (
    ("salesmgr1", "赵经理", "sales", "一组", "manager", "一组"),
    ("salesmgr2", "钱经理", "sales", "二组", "manager", "二组"),
    ("sales1", "孙丽", "sales", "一组", "member", None),
    ("sales2", "李强", "sales", "一组", "member", None),
    ("sales3", "周敏", "sales", "二组", "member", None),
    ("sales4", "Wu Lei", "sales", "二组", "member", None),
    ("servicemgr1", "郑主管", "service", "一组", "manager", "一组"),
    ("service1", "王芳", "service", "一组", "member", None),
    ("service2", "冯涛", "service", "一组", "member", None),
    ("service3", "陈静", "service", "二组", "member", None),
    ("marketingmgr1", "褚经理", "marketing", "一组", "manager", "一组"),
    ("marketing1", "卫娜", "marketing", "一组", "member", None),
    ("marketing2", "Jiang Hao", "marketing", "一组", "member", None),
    ("boss", "沈总", "management", "管理组", "manager", None),
    ("viewer", "韩审计", "management", "管理组", "read_only", None),
)


@generator(10, "users and teams")
def create_users(ctx: DemoContext) -> None:
    password = os.environ.get("CRM_DEMO_PASSWORD", "crm-demo-2026")
    hashed = make_password(password)  # one slow argon2 hash for every demo user
    departments: dict[str, Department] = {}
    teams: dict[tuple[str, str], Team] = {}
    for code, name, team_names in DEPARTMENTS:
        departments[code], _ = Department.objects.get_or_create(code=code, defaults={"name": name})
        for team_name in team_names:
            teams[(code, team_name)], _ = Team.objects.get_or_create(department=departments[code], name=team_name)
    roles = {role.code: role for role in Role.objects.all()}
    users: dict[str, User] = {}
    admin_name = getattr(settings, "DEMO_ADMIN_USERNAME", "admin")
    admin = User.objects.filter(username=admin_name).first()
    if admin is None:
        admin = User.objects.create_superuser(
            admin_name,
            "admin@example.com",
            None,
            display_name="管理员 Admin",
            department=departments["management"],
            team=teams[("management", "管理组")],
            role=roles.get("administrator"),
        )
        User.objects.filter(pk=admin.pk).update(password=hashed)
    users[admin_name] = admin
    for username, display_name, dept, team_name, role_code, manages in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username,
                email=f"{username}@example.com",
                display_name=display_name,
                department=departments[dept],
                team=teams[(dept, team_name)],
                role=roles.get(role_code),
                manager_of=teams[(dept, manages)] if manages else None,
            )
            User.objects.filter(pk=user.pk).update(password=hashed)
        users[username] = user
    ctx.state["departments"] = departments
    ctx.state["teams"] = teams
    ctx.state["users"] = users
