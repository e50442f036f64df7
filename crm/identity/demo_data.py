"""Demo users: an administrator and one member per department (password CRM_DEMO_PASSWORD)."""

from __future__ import annotations

import os

from crm.demo.registry import DemoContext, generator
from crm.identity.models import Department, Team, User


@generator(10, "users and teams")
def create_users(ctx: DemoContext) -> None:
    password = os.environ.get("CRM_DEMO_PASSWORD", "crm-demo-2026")
    departments = {}
    for code, name in (("sales", "销售部"), ("service", "客服部"), ("marketing", "市场部"), ("management", "管理层")):
        departments[code], _ = Department.objects.get_or_create(code=code, defaults={"name": name})
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", password, display_name="管理员 Admin")
    for code in ("sales", "service", "marketing"):
        team, _ = Team.objects.get_or_create(department=departments[code], name="一组")
        username = f"{code}1"
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(username, password=password, department=departments[code], team=team)
    ctx.state["departments"] = departments
