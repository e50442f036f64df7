"""Django settings for the CRM, read from CRM_* environment variables (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

INSECURE_DEV_SECRET = "insecure-dev-secret-key-change-me"  # noqa: S105 - refused in production
# 32-byte keys, base64 url-safe. Development defaults only; production refuses them.
INSECURE_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="
INSECURE_DEV_BLIND_INDEX_KEY = "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LTMyYnl0ZXMh"


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- mode ---------------------------------------------------------------------------------
CRM_ENV = env_str("CRM_ENV", "production")  # production | development | test
if CRM_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured("CRM_ENV must be production, development or test")
PRODUCTION = CRM_ENV == "production"
DEBUG = env_bool("CRM_DEBUG", default=False)

SECRET_KEY = env_str("CRM_SECRET_KEY", INSECURE_DEV_SECRET)
ENCRYPTION_KEYS = env_str("CRM_ENCRYPTION_KEYS", "")  # "id:base64key,id:base64key"; first encrypts
ENCRYPTION_KEY_FILE = env_str("CRM_ENCRYPTION_KEY_FILE", "")
BLIND_INDEX_KEY = env_str("CRM_BLIND_INDEX_KEY", "")
if not ENCRYPTION_KEYS and not ENCRYPTION_KEY_FILE:
    ENCRYPTION_KEYS = f"dev:{INSECURE_DEV_ENCRYPTION_KEY}"
if not BLIND_INDEX_KEY:
    BLIND_INDEX_KEY = INSECURE_DEV_BLIND_INDEX_KEY

if PRODUCTION:
    if SECRET_KEY == INSECURE_DEV_SECRET or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "CRM_SECRET_KEY must be set to a random value of 32+ characters in production "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if INSECURE_DEV_ENCRYPTION_KEY in ENCRYPTION_KEYS or BLIND_INDEX_KEY == INSECURE_DEV_BLIND_INDEX_KEY:
        raise ImproperlyConfigured(
            "CRM_ENCRYPTION_KEYS (or CRM_ENCRYPTION_KEY_FILE) and CRM_BLIND_INDEX_KEY must be set "
            "in production; run `crm keys generate` to make them."
        )
    if DEBUG:
        raise ImproperlyConfigured("CRM_DEBUG must be off in production")

ALLOWED_HOSTS = env_list("CRM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if not PRODUCTION else "")
CSRF_TRUSTED_ORIGINS = env_list("CRM_CSRF_TRUSTED_ORIGINS")

# --- apps ---------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks_db",
    "crm.core",
    "crm.identity",
    "crm.customers",
    "crm.customers.scoring.store",
    "crm.web",
    "crm.demo",
]

MIDDLEWARE = [
    "crm.core.middleware.RequestContextMiddleware",
    "crm.core.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.core.middleware.ApiTokenMiddleware",
    "crm.identity.middleware.UserPreferencesMiddleware",
    "crm.core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Sub-packages of apps (customers/transfer, customers/scoring, …) keep their own templates/;
        # real apps (with apps.py) are found by APP_DIRS.
        "DIRS": sorted(
            p for p in (BASE_DIR / "crm").glob("*/*/templates") if p.is_dir() and not (p.parent / "apps.py").exists()
        ),
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.web.context_processors.navigation",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
DATA_DIR = Path(env_str("CRM_DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", "")
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=20000; "
        "PRAGMA foreign_keys=ON; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
    ),
}
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CRM_DB_CONN_MAX_AGE", 600))
    _db["CONN_HEALTH_CHECKS"] = True
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "crm.sqlite3")}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {**SQLITE_OPTIONS, **_db.get("OPTIONS", {})}
    _db["CONN_MAX_AGE"] = 0 if CRM_ENV == "test" else 600
    _db["TEST"] = {"NAME": env_str("CRM_TEST_SQLITE_NAME", "") or None}
elif _db["ENGINE"].startswith("django.db.backends.postgresql"):
    _db.setdefault("OPTIONS", {})
    _db["TEST"] = {"NAME": env_str("CRM_TEST_DB_NAME", "") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- tasks --------------------------------------------------------------------------------
# database | immediate (tests default to immediate: tasks run inline, inside the test's transaction)
TASK_BACKEND = env_str("CRM_TASK_BACKEND", "immediate" if CRM_ENV == "test" else "database")
if TASK_BACKEND not in {"database", "immediate"}:
    raise ImproperlyConfigured("CRM_TASK_BACKEND must be database or immediate")
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks_db.DatabaseBackend"
            if TASK_BACKEND == "database"
            else "django.tasks.backends.immediate.ImmediateBackend"
        ),
        "QUEUES": ["default", "imports", "scores"],
    }
}
WORKER_HEARTBEAT_MAX_AGE = env_int("CRM_WORKER_HEARTBEAT_MAX_AGE", 120)

# --- auth ---------------------------------------------------------------------------------
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if CRM_ENV == "test"
    else [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("CRM_PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lock-out (crm.identity.authentication): N counted failures within the window lock the account
# (or the client IP) for CRM_LOGIN_LOCKOUT_SECONDS after the last of them.
LOGIN_MAX_FAILURES = env_int("CRM_LOGIN_MAX_FAILURES", 10)
LOGIN_MAX_FAILURES_PER_IP = env_int("CRM_LOGIN_MAX_FAILURES_PER_IP", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("CRM_LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_LOCKOUT_SECONDS = env_int("CRM_LOGIN_LOCKOUT_SECONDS", 900)
# Administrators must use TOTP two-factor; off by default in development so the demo admin logs in at once.
REQUIRE_ADMIN_2FA = env_bool("CRM_REQUIRE_ADMIN_2FA", default=PRODUCTION)
TOTP_ISSUER = env_str("CRM_TOTP_ISSUER", "CRM")
SESSION_COOKIE_AGE = env_int("CRM_SESSION_AGE_SECONDS", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("CRM_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("CRM_BEHIND_TLS_PROXY") else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- limits -------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CRM_MAX_BODY_BYTES", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
CRM_MAX_UPLOAD_BYTES = env_int("CRM_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
IDEMPOTENCY_TTL_HOURS = env_int("CRM_IDEMPOTENCY_TTL_HOURS", 24)
# Periodic jobs run by `crm worker` (crm.core.schedule), local times HH:MM; "off" disables one.
SCHEDULE_SCORES_AT = env_str("CRM_SCHEDULE_SCORES_AT", "02:30")
SCHEDULE_HOUSEKEEPING_AT = env_str("CRM_SCHEDULE_HOUSEKEEPING_AT", "03:30")
LOGIN_ATTEMPT_RETENTION_DAYS = env_int("CRM_LOGIN_ATTEMPT_RETENTION_DAYS", 90)
API_PAGE_SIZE = env_int("CRM_API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = 500

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = env_str("CRM_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env_str("CRM_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
# Every `locale/` folder under crm/ (apps and their sub-packages each keep their own catalogue).
LOCALE_PATHS = sorted(p for p in (BASE_DIR / "crm").glob("**/locale") if p.is_dir())
CRM_DEFAULT_CURRENCY = env_str("CRM_DEFAULT_CURRENCY", "CNY")

# --- static -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it; collectstatic fills it
STATICFILES_DIRS = [("vendor", BASE_DIR / "node_modules")] if (BASE_DIR / "node_modules").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": DATA_DIR / "files"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "files"

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = env_str("CRM_LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("CRM_LOG_FORMAT", "json")  # json | text
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "crm.core.logging.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "crm.core.logging.CrmJsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": "WARNING" if CRM_ENV == "test" else "INFO"},
    },
}

# --- cache --------------------------------------------------------------------------------
REDIS_URL = env_str("CRM_REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- demo / first run ---------------------------------------------------------------------
DEMO_ADMIN_USERNAME = env_str("CRM_DEMO_ADMIN_USERNAME", "admin")
CRM_TOKEN_AUTHENTICATOR = env_str("CRM_TOKEN_AUTHENTICATOR", "crm.identity.tokens.authenticate_token")
