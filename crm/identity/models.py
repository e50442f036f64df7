"""Who is acting: users in departments and teams, with roles that grant scoped verbs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.access import VERBS, Scope


class Department(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)

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

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def access_scope(self, object_type: str, verb: str) -> Scope | None:
        """Widest scope this user's role grants for `verb` on `object_type`; None when not granted."""
        if not self.is_active:
            return None
        if self.is_superuser:
            return Scope.ALL
        if self.role_id is None:
            return None
        cache = self.__dict__.setdefault("_scope_cache", {})
        key = (object_type, verb)
        if key not in cache:
            row = (
                RolePermission.objects.filter(role_id=self.role_id, object_type=object_type, verb=verb)
                .values_list("scope", flat=True)
                .first()
            )
            cache[key] = Scope(row) if row is not None else None
        return cache[key]


class ApiToken(models.Model):
    """A bearer token: only its hash is stored; the secret is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
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
