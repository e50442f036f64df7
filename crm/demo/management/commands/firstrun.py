"""`crm firstrun`: migrate, and on an empty database load demo data; then say how to log in."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Prepare a development instance: migrate, load demo data once, print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0)
        if not get_user_model().objects.exists():
            self.stdout.write("First start: loading demo data…")
            call_command("demo", customers=int(os.environ.get("CRM_DEMO_CUSTOMERS", "2000")))
        password = os.environ.get("CRM_DEMO_PASSWORD", "crm-demo-2026")
        admin = settings.DEMO_ADMIN_USERNAME
        port = os.environ.get("CRM_PORT", "8000")
        self.stdout.write(
            self.style.SUCCESS(
                f"\nThe CRM is starting at http://127.0.0.1:{port}\n"
                f"  Log in as  {admin} / {password}   (administrator)\n"
                f"  or         sales1, service1, marketing1 / {password}   (department members)\n"
                f"  or         salesmgr1, servicemgr1, boss / {password}   (managers)\n"
                f"  API docs:  http://127.0.0.1:{port}/api/v1/docs   (API token: crm token create {admin})\n"
            )
        )
