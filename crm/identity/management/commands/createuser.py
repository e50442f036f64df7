"""`crm createuser USERNAME`: create a user without prompts (password from stdin or the environment)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from crm.core import context
from crm.core.errors import DomainError
from crm.identity import services
from crm.identity.models import Department, Role, Team

PASSWORD_ENV = "CRM_NEW_USER_PASSWORD"  # noqa: S105 - the variable's name, not a password


class Command(BaseCommand):
    help = (
        "Create a user non-interactively. The password comes from stdin (--password-stdin) or from "
        f"${PASSWORD_ENV}; without either the account cannot log in until an administrator sets one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--department", help="Department code or name, e.g. sales or 销售部.")
        parser.add_argument("--team", help="Team name inside the department, e.g. 一组.")
        parser.add_argument("--role", help="Role code: administrator, manager, member, read_only or a custom one.")
        parser.add_argument("--manager-of", help="Team name (in --department) this user manages.")
        parser.add_argument("--email", default="")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
        parser.add_argument("--superuser", action="store_true", help="Every right (administrator).")

    def handle(self, *args: Any, **options: Any) -> None:
        department = self._department(options.get("department"))
        team = self._team(department, options.get("team"), "--team")
        manager_of = self._team(department, options.get("manager_of"), "--manager-of")
        role = None
        if options.get("role"):
            role = Role.objects.filter(code=options["role"]).first()
            if role is None:
                known = ", ".join(Role.objects.order_by("code").values_list("code", flat=True))
                raise CommandError(f"No role {options['role']!r}. Known roles: {known}")
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: no password on stdin.")
        else:
            password = os.environ.get(PASSWORD_ENV, "")
        with context.bind(context.RequestContext(request_id=context.new_request_id(), channel="cli")):
            try:
                user = services.create_user(
                    actor=None,
                    username=options["username"],
                    password=password or None,
                    email=options["email"],
                    display_name=options["display_name"],
                    department=department,
                    team=team,
                    manager_of=manager_of,
                    role=role,
                    is_superuser=bool(options["superuser"]),
                )
            except DomainError as exc:
                lines = [f"{field}: {message}" for field, messages in exc.errors.items() for message in messages]
                raise CommandError("\n".join(lines) or str(exc.detail)) from exc
        state = "" if password else " (no password yet: it cannot log in until one is set)"
        self.stdout.write(f"Created user {user.username} (id {user.pk}){state}.")

    def _department(self, value: str | None) -> Department | None:
        if not value:
            return None
        department = Department.objects.filter(Q(code=value) | Q(name=value)).first()
        if department is None:
            known = ", ".join(f"{d.code} ({d.name})" for d in Department.objects.all())
            raise CommandError(f"No department {value!r}. Known: {known or 'none'}")
        return department

    def _team(self, department: Department | None, value: str | None, option: str) -> Team | None:
        if not value:
            return None
        teams = Team.objects.filter(name=value)
        if department is not None:
            teams = teams.filter(department=department)
        found = list(teams[:2])
        if len(found) != 1:
            where = f" in {department.code}" if department else " (give --department to choose)"
            problem = "No" if not found else "More than one"
            raise CommandError(f"{problem} team {value!r}{where}.")
        return found[0]
