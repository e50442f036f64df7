"""`crm check`: Django's system checks plus what a running CRM needs (keys, database, migrations).

The runtime checks live here rather than in the check registry because `migrate` runs the
registry first: "migrations not applied" must not stop the command that applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.check import Command as DjangoCheck

from crm.core import health


def check_keys() -> tuple[bool, str]:
    from django.conf import settings

    try:
        from crm.core.crypto import keyring

        keyring()
    except Exception as exc:  # noqa: BLE001 - any failure means the keys are unusable
        return False, f"encryption keys are not usable: {exc}"
    if settings.SECRET_KEY == settings.INSECURE_DEV_SECRET or settings.BLIND_INDEX_KEY == (
        settings.INSECURE_DEV_BLIND_INDEX_KEY
    ):
        return True, "development keys in use (fine for development; production refuses them)"
    return True, "ok"


RUNTIME_CHECKS: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
    ("keys", check_keys),
    ("database", health.check_database),
    ("migrations", health.check_migrations),
]


class Command(DjangoCheck):
    help = "System checks, then: encryption keys usable, database reachable, migrations applied."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--skip-runtime", action="store_true", help="only Django's system checks")

    def handle(self, *app_labels: Any, **options: Any) -> None:
        super().handle(*app_labels, **options)
        if options["skip_runtime"] or options["list_tags"]:
            return
        failed = []
        for name, check in RUNTIME_CHECKS:
            ok, detail = check()
            style = self.style.SUCCESS if ok else self.style.ERROR
            self.stdout.write(style(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}"))
            if not ok:
                failed.append(name)
                if name == "database":
                    break
        if failed:
            raise CommandError(f"Runtime checks failed: {', '.join(failed)}")
