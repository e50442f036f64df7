"""Who is acting: users in departments and teams, with roles that grant scoped verbs."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from crm.core.access import VERBS, Scope
from crm.core.crypto import EncryptedTextField


class Department(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="teams", verbose_name=_("department")
    )
    name = models.CharField(_("name"), max_length=100)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["department__name", "name"]
        constraints = [models.UniqueConstraint(fields=["department", "name"], name="team_name_per_department_uniq")]

    def __str__(self) -> str:
        return f"{self.department} / {self.name}"


class Role(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    is_builtin = models.BooleanField(_("built in"), default=False)
    description = models.CharField(_("description"), max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]

    def __str__(self) -> str:
        # Built-in roles are named in English in code; show them in the reader's language.
        return gettext(self.name) if self.is_builtin else self.name


# The built-in role names (crm/identity/builtin_roles.py), for the translation catalogue.
BUILTIN_ROLE_NAMES = (
    gettext_noop("Administrator"),
    gettext_noop("Manager"),
    gettext_noop("Member"),
    gettext_noop("Read-only"),
)


class RolePermission(models.Model):
    """Role grants `verb` on `object_type` over `scope` records."""

    VERB_CHOICES = [(v, v) for v in VERBS]
    SCOPE_CHOICES = [(s.value, s.name.lower()) for s in Scope]

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    object_type = models.CharField(max_length=100)
    verb = models.CharField(max_length=20, choices=VERB_CHOICES)
    scope = models.PositiveSmallIntegerField(choices=SCOPE_CHOICES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "object_type", "verb"], name="role_permission_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.verb} {self.object_type} ({Scope(self.scope).name.lower()})"


def token_allows(scopes: list[str] | None, object_type: str, verb: str) -> bool:
    """Whether an API token's scopes cover `verb` on `object_type` (empty scopes: everything).

    Entries: "customers.customer:view", "customers.customer:*", "*:view" or "*:*".
    """
    if not scopes:
        return True
    wanted = {f"{object_type}:{verb}", f"{object_type}:*", f"*:{verb}", "*:*"}
    return any(entry in wanted for entry in scopes)


# The columns `str(user)` is made of, for reads that fetch them with `.values()` (`user_label`).
USER_LABEL_FIELDS = ("display_name", "first_name", "last_name", "username")


def user_label(display_name: str, first_name: str, last_name: str, username: str) -> str:
    """How a user is named on screen: display name, else full name, else username (`str(user)`)."""
    return display_name or f"{first_name} {last_name}".strip() or username


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("department"),
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="members", verbose_name=_("team")
    )
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.PROTECT, related_name="users", verbose_name=_("role")
    )
    manager_of = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managers",
        verbose_name=_("manages team"),
        help_text=_("A manager sees what the team sees."),
    )
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # Changing it ends every session of the user ("log out everywhere", disabling, password change).
    security_stamp = models.CharField(max_length=32, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return user_label(self.display_name, self.first_name, self.last_name, self.username)

    @property
    def is_administrator(self) -> bool:
        """Superusers and holders of the built-in administrator role (2FA is mandatory for them)."""
        if self.is_superuser:
            return True
        return self.role_id is not None and self.role is not None and self.role.code == "administrator"

    def rotate_security_stamp(self) -> None:
        """A new stamp invalidates every session hash issued before (callers save the user)."""
        self.security_stamp = secrets.token_hex(16)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # The stamp joins the password in the session hash: changing either ends every session.
        key_salt = "crm.identity.models.User.get_session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}|{self.security_stamp}", secret=secret, algorithm="sha256"
        ).hexdigest()

    def token_allows(self, object_type: str, verb: str) -> bool:
        """Whether the API token this request authenticated with (if any) covers `verb` on `object_type`."""
        token = self.__dict__.get("api_token")
        return token is None or token_allows(token.scopes, object_type, verb)

    def access_scope(self, object_type: str, verb: str) -> Scope | None:
        """Widest scope this user's role grants for `verb` on `object_type`; None when not granted.

        When the request authenticated with a scoped API token, only the token's scopes count.
        """
        if not self.is_active:
            return None
        if not self.token_allows(object_type, verb):
            return None  # the token narrows the user's rights
        if self.is_superuser:
            return Scope.ALL
        if self.role_id is None:
            return None
        return self._role_grants(self.role_id).get((object_type, verb))

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        # A refreshed user reads its role's grants and field rules afresh too.
        self.__dict__.pop("_grants_cache", None)
        self.__dict__.pop("_field_rules_cache", None)
        super().refresh_from_db(*args, **kwargs)

    def _role_grants(self, role_id: int) -> dict[tuple[str, str], Scope]:
        """Every (object_type, verb) → scope of the role, read once per user object.

        One request touches several object types (the customer 360 reads customers, contacts,
        channels, needs and orders); one query for the role beats one per type. The user object
        lives for one request (or one job), so a changed role applies from the next request on.
        """
        cached = self.__dict__.get("_grants_cache")
        if cached is not None and cached[0] == role_id:
            grants: dict[tuple[str, str], Scope] = cached[1]
        else:
            grants = {
                (object_type, verb): Scope(scope)
                for object_type, verb, scope in RolePermission.objects.filter(role_id=role_id).values_list(
                    "object_type", "verb", "scope"
                )
            }
            self.__dict__["_grants_cache"] = (role_id, grants)
        return grants

    def shared_record_ids(self, object_type: str, verb: str) -> models.QuerySet[RecordShare, int] | None:
        """Ids of `object_type` records shared with this user's team or department for `verb`.

        Used by the access layer as a subquery; a share for any verb also allows viewing.
        """
        targets = models.Q()
        if self.team_id:
            targets |= models.Q(team_id=self.team_id)
        if self.department_id:
            targets |= models.Q(department_id=self.department_id)
        if not targets:
            return None
        shares = RecordShare.objects.filter(targets, object_type=object_type)
        if verb != "view":
            shares = shares.filter(verb=verb)
        return shares.values_list("object_id", flat=True)

    def field_rules(self, object_type: str) -> tuple[set[str], set[str]]:
        """(hidden, read-only) field names for `object_type` under this user's role."""
        if self.role_id is None or self.is_superuser:
            return set(), set()
        cached = self.__dict__.get("_field_rules_cache")
        if cached is not None and cached[0] == self.role_id:
            rules: dict[str, tuple[set[str], set[str]]] = cached[1]
        else:
            # All the role's rules in one query, kept for this user object (like _role_grants).
            rules = {}
            for rule_type, field, mode in RoleFieldRule.objects.filter(role_id=self.role_id).values_list(
                "object_type", "field", "mode"
            ):
                hidden, read_only = rules.setdefault(rule_type, (set(), set()))
                (hidden if mode == RoleFieldRule.HIDDEN else read_only).add(field)
            self.__dict__["_field_rules_cache"] = (self.role_id, rules)
        hidden, read_only = rules.get(object_type, (set(), set()))
        return set(hidden), set(read_only)


class RoleFieldRule(models.Model):
    """Per-field restriction of a role: the field is hidden (neither shown nor writable) or read-only."""

    HIDDEN = "hidden"
    READ_ONLY = "read_only"
    MODE_CHOICES = [(HIDDEN, _("hidden")), (READ_ONLY, _("read-only"))]

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="field_rules")
    object_type = models.CharField(max_length=100)
    field = models.CharField(max_length=100)
    mode = models.CharField(max_length=12, choices=MODE_CHOICES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "object_type", "field"], name="role_field_rule_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.object_type}.{self.field} {self.mode}"


class RecordShare(models.Model):
    """A record shared with a whole team or department (e.g. service sees what sales owns)."""

    object_type = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    verb = models.CharField(max_length=20, default="view")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["object_type", "team"]), models.Index(fields=["object_type", "department"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=False) | models.Q(department__isnull=False),
                name="record_share_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} → {self.team or self.department}"


class LoginAttempt(models.Model):
    """Every login attempt, for throttling and lock-out by account and by IP."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    succeeded = models.BooleanField(default=False)
    attempted_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Why a failure failed: "credentials" and "totp" count towards lock-out; "locked" does not.
    reason = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "attempted_at"], name="login_attempt_user_time_idx"),
            models.Index(fields=["ip", "attempted_at"], name="login_attempt_ip_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.ip} {'ok' if self.succeeded else 'failed'}"


class TotpDevice(models.Model):
    """A user's TOTP authenticator; the secret is encrypted at rest."""

    user = models.OneToOneField("User", on_delete=models.CASCADE, related_name="totp")
    secret = EncryptedTextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"TOTP of {self.user_id}"


class ApiToken(models.Model):
    """A bearer token: only its hash is stored; the secret is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Subset of the user's rights: ["customers.customer:view", ...]; empty = all of the user's rights.
    scopes = models.JSONField(default=list, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now) and self.user.is_active
