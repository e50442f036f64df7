"""`crm token create|list|revoke`: API tokens from the command line (create prints only the token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from crm.core import context
from crm.core.errors import DomainError
from crm.identity.models import ApiToken, User
from crm.identity.tokens import create_token, revoke_token


class Command(BaseCommand):
    help = "Create, list and revoke API tokens. `create` prints only the token, so it can be captured."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token for USERNAME and print it (shown once).")
        create.add_argument("username")
        create.add_argument("--name", required=True)
        create.add_argument("--expires-days", type=int, default=None)
        create.add_argument(
            "--scope",
            action="append",
            default=[],
            help="object_type:verb, repeatable (default: all of the user's rights)",
        )
        listing = sub.add_parser("list", help="List tokens (of USERNAME, or all).")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke a token by id or prefix.")
        revoke.add_argument("token", help="Token id, or its prefix as shown by `list` (crm_xxxxxxxx)")

    def handle(self, *args: Any, **options: Any) -> None:
        with context.bind(context.RequestContext(request_id=context.new_request_id(), channel="cli")):
            getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {options['username']!r}.")
        days = options.get("expires_days")
        if days is not None and days < 1:
            raise CommandError("--expires-days must be 1 or more.")
        try:
            _token, secret = create_token(
                user,
                name=options["name"],
                actor=None,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                scopes=options["scope"],
            )
        except DomainError as exc:
            lines = [message for messages in exc.errors.values() for message in messages]
            raise CommandError("\n".join(lines) or str(exc.detail)) from exc
        self.stdout.write(secret)

    def _list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("id")
        if options.get("username"):
            tokens = tokens.filter(user__username=options["username"])
        for t in tokens:
            state = "revoked" if t.revoked_at else ("active" if t.is_usable else "expired")
            expires = t.expires_at.date().isoformat() if t.expires_at else "never"
            scopes = ",".join(t.scopes) or "*"
            self.stdout.write(f"{t.pk}\t{t.prefix}\t{t.user.username}\t{t.name}\t{state}\texpires {expires}\t{scopes}")

    def _revoke(self, options: dict[str, Any]) -> None:
        value = options["token"]
        qs = ApiToken.objects.select_related("user")
        matches = list(qs.filter(pk=int(value))) if value.isdigit() else list(qs.filter(prefix=value)[:2])
        if len(matches) != 1:
            raise CommandError(f"No single token matches {value!r}.")
        token = revoke_token(matches[0], actor=None)
        self.stdout.write(f"Revoked token {token.pk} ({token.prefix}…) of {token.user.username}.")
