"""Logging in: password check with lock-out by account and by IP, TOTP second factor, audit.

Pages (`views.py`), the token exchange (`api.py`) and anything else that checks a password go
through `check_password_login` and `check_totp_login`, so throttling and audit cannot be skipped.
Failures never say whether the account exists.
"""

from __future__ import annotations

import hmac
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core import context
from crm.core.audit import record_audit
from crm.core.errors import DomainError, ValidationFailed
from crm.identity.models import LoginAttempt, TotpDevice, User

GENERIC_FAILURE = gettext_lazy("The username or password is incorrect, or the account cannot log in.")
LOCKED_MESSAGE = gettext_lazy("Too many failed attempts. Wait a few minutes and try again.")
TOTP_FAILURE = gettext_lazy("The code is not valid. Use the current code from your authenticator app.")

COUNTED_REASONS = ("credentials", "totp")
TOTP_STEP_SECONDS = 30


class LoginFailed(DomainError):
    """Wrong credentials or code: one generic answer, whether or not the user exists."""

    status = 401
    title = gettext_lazy("Authentication failed")


class LoginLocked(DomainError):
    """Too many recent failures for this account or client IP."""

    status = 429
    title = gettext_lazy("Too many attempts")

    def __init__(self, retry_after: int) -> None:
        super().__init__(LOCKED_MESSAGE)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class PasswordOutcome:
    user: User
    needs_totp: bool  # enrolled: ask for the code before logging in
    must_enrol: bool  # administrator without TOTP while CRM_REQUIRE_ADMIN_2FA: enrol before logging in


def normalise_username(username: str) -> str:
    return (username or "").strip()[:150]


def _throttle_key(username: str) -> str:
    return normalise_username(username).lower()


def _locked_until(filters: dict[str, Any], limit: int, now: datetime) -> datetime | None:
    """When the lock on these attempts ends, or None when not locked.

    Locked when the last `limit` counted failures since the last success lie within the window;
    the lock lasts CRM_LOGIN_LOCKOUT_SECONDS after the latest of them.
    """
    if limit <= 0:
        return None
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    lockout = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    since = now - window - lockout
    last_success = (
        LoginAttempt.objects.filter(**filters, succeeded=True, attempted_at__gte=since)
        .order_by("-attempted_at")
        .values_list("attempted_at", flat=True)
        .first()
    )
    if last_success is not None:
        since = last_success
    times = list(
        LoginAttempt.objects.filter(**filters, succeeded=False, reason__in=COUNTED_REASONS, attempted_at__gt=since)
        .order_by("-attempted_at")
        .values_list("attempted_at", flat=True)[:limit]
    )
    if len(times) < limit or times[0] - times[-1] > window:
        return None
    until = times[0] + lockout
    return until if until > now else None


def lock_state(username: str, ip: str | None) -> datetime | None:
    """The end of the lock on this account or IP, whichever is later; None when neither is locked."""
    now = timezone.now()
    ends = [_locked_until({"username": _throttle_key(username)}, settings.LOGIN_MAX_FAILURES, now)]
    if ip:
        ends.append(_locked_until({"ip": ip}, settings.LOGIN_MAX_FAILURES_PER_IP, now))
    found = [e for e in ends if e is not None]
    return max(found) if found else None


def _record_attempt(username: str, ip: str | None, *, succeeded: bool, reason: str) -> None:
    LoginAttempt.objects.create(username=_throttle_key(username), ip=ip, succeeded=succeeded, reason=reason)


def _audit_failure(username: str, user: User | None, reason: str) -> None:
    record_audit(
        actor=None,
        verb="login.failed",
        object_type="identity.user",
        object_id=user.pk if user is not None else "",
        object_repr=normalise_username(username),
        extra={"username": normalise_username(username), "reason": reason},
    )


def _fail(username: str, ip: str | None, user: User | None, reason: str) -> LoginFailed:
    """Record a counted failure; audit it, and the lock-out when this failure starts one."""
    with transaction.atomic():
        _record_attempt(username, ip, succeeded=False, reason=reason)
        _audit_failure(username, user, reason)
        now = timezone.now()
        by_account = _locked_until({"username": _throttle_key(username)}, settings.LOGIN_MAX_FAILURES, now)
        by_ip = _locked_until({"ip": ip}, settings.LOGIN_MAX_FAILURES_PER_IP, now) if ip else None
        for kind, until in (("account", by_account), ("ip", by_ip)):
            if until is not None:
                record_audit(
                    actor=None,
                    verb="lockout",
                    object_type="identity.user",
                    object_id=user.pk if user is not None else "",
                    object_repr=normalise_username(username),
                    extra={
                        "username": normalise_username(username),
                        "by": kind,
                        "ip": ip,
                        "until": until.isoformat(),
                    },
                )
    message = TOTP_FAILURE if reason == "totp" else GENERIC_FAILURE
    return LoginFailed(message)


def _refuse_locked(username: str, ip: str | None, until: datetime) -> LoginLocked:
    with transaction.atomic():
        _record_attempt(username, ip, succeeded=False, reason="locked")
        _audit_failure(username, None, "locked")
    return LoginLocked(int((until - timezone.now()).total_seconds()) + 1)


def check_password_login(username: str, password: str, *, request: Any = None) -> PasswordOutcome:
    """First factor. Raises LoginLocked or LoginFailed (generic); never says whether the user exists."""
    ip = context.current().ip
    username = normalise_username(username)
    until = lock_state(username, ip)
    if until is not None:
        raise _refuse_locked(username, ip, until)
    user = authenticate(request, username=username, password=password or "") if username else None
    if not isinstance(user, User):
        existing = User.objects.filter(username=username).first() if username else None
        raise _fail(username, ip, existing, "credentials")
    device = confirmed_device(user)
    must_enrol = device is None and user.is_administrator and settings.REQUIRE_ADMIN_2FA
    return PasswordOutcome(user=user, needs_totp=device is not None, must_enrol=must_enrol)


def check_totp_login(user: User, code: str) -> None:
    """Second factor for a user who passed the password step; counts towards lock-out on failure."""
    ip = context.current().ip
    until = lock_state(user.username, ip)
    if until is not None:
        raise _refuse_locked(user.username, ip, until)
    device = confirmed_device(user)
    if device is None or not use_totp_code(device, code):
        raise _fail(user.username, ip, user, "totp")


def record_login_success(user: User, *, method: str) -> None:
    """Audit a completed login (`method`: "password", "password+totp", "token-exchange")."""
    ip = context.current().ip
    with transaction.atomic():
        _record_attempt(user.username, ip, succeeded=True, reason="")
        record_audit(actor=user, verb="login", obj=user, extra={"method": method})
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())


# --- TOTP ---------------------------------------------------------------------------------


def confirmed_device(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_totp_code(device: TotpDevice, code: str) -> bool:
    """True when `code` is valid now and newer than any code used before (a replayed code is refused)."""
    step = _matching_step(device.secret, code, timezone.now())
    if step is None:
        return False
    # Conditional update: two requests racing with the same code cannot both win.
    updated = TotpDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(last_used_step=step)
    return updated == 1


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=settings.TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (generated locally, no external service)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


def begin_totp_enrolment(user: User) -> TotpDevice:
    """A fresh, unconfirmed secret for the user (replaces an earlier unconfirmed one)."""
    if confirmed_device(user) is not None:
        raise ValidationFailed(_("Two-factor authentication is already on. Turn it off first to enrol again."))
    TotpDevice.objects.filter(user=user).delete()
    return TotpDevice.objects.create(user=user, secret=pyotp.random_base32())


def pending_device(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()


def confirm_totp_enrolment(user: User, code: str) -> TotpDevice:
    device = pending_device(user)
    if device is None:
        raise ValidationFailed(_("Start the enrolment again."), errors={"code": [_("Start the enrolment again.")]})
    if not use_totp_code(device, code):
        raise ValidationFailed(TOTP_FAILURE, errors={"code": [TOTP_FAILURE]})
    with transaction.atomic():
        device.confirmed_at = timezone.now()
        device.save(update_fields=["confirmed_at"])
        record_audit(actor=user, verb="change", obj=user, changes={"totp": {"before": False, "after": True}})
    return device


def disable_totp(user: User, *, actor: User, code: str | None) -> None:
    """Turn TOTP off: the user with a current code, or an administrator for another user (lost phone)."""
    device = confirmed_device(user)
    if device is None:
        TotpDevice.objects.filter(user=user).delete()
        return
    if actor.pk == user.pk:
        if user.is_administrator and settings.REQUIRE_ADMIN_2FA:
            raise ValidationFailed(_("Administrators must keep two-factor authentication on."))
        if not use_totp_code(device, code or ""):
            raise ValidationFailed(TOTP_FAILURE, errors={"code": [TOTP_FAILURE]})
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        record_audit(actor=actor, verb="change", obj=user, changes={"totp": {"before": True, "after": False}})
