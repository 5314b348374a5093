"""QuickBot portal settings, driven by environment variables.

Local runs (`manage.py`, the test suite) default to DEBUG on, SQLite and the
local-memory cache. Production (gunicorn) defaults to DEBUG off and refuses to
start without SECRET_KEY. Every variable is listed in the README.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from quickbot.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

LOCAL_RUN = env_bool("LOCAL_RUN", default=False)
DEBUG = env_bool("DEBUG", default=LOCAL_RUN)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the portal refuses to start without one: "
            "export SECRET_KEY to a long random value (see README, 'Production')."
        )
    SECRET_KEY = "django-insecure-local-development-only-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks_db",
    "common",
    "accounts",
    "apitokens",
]

MIDDLEWARE = [
    # First: every response, whichever middleware makes it, carries the request's ID.
    "quickbot.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apitokens.api.middleware.ApiTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "quickbot.urls"
WSGI_APPLICATION = "quickbot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))),
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=5000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Reopening SQLite and its PRAGMAs per request costs more than the request.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 600),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# On a Redis Cluster REDIS_URL names any node; the cache and the API's counters then go through
# redis-py's RedisCluster, which follows the cluster's redirections (common/redis_cluster.py).
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", default=False)
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "quickbot")
if "{" in CACHE_KEY_PREFIX or "}" in CACHE_KEY_PREFIX:
    # Redis Cluster hashes a key's first {...}: it must be the account's tag in `qb:rl:{42}:…`.
    raise ImproperlyConfigured(f"CACHE_KEY_PREFIX must not contain braces: {CACHE_KEY_PREFIX!r}")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": (
                "common.redis_cluster.RedisClusterCache"
                if REDIS_CLUSTER
                else "django.core.cache.backends.redis.RedisCache"
            ),
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "quickbot",
        }
    }

# --- Accounts and passwords ------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
# Signing in lands on API Tokens: what people come to the portal for.
LOGIN_REDIRECT_URL = "apitokens:list"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email (Django 6.1 MAILERS; console by default, SMTP via environment) ----------
# The console backend that also prints each message's links whole (common/console_mail.py).
EMAIL_BACKEND_NAME = env_str("EMAIL_BACKEND", "common.console_mail.EmailBackend")
_mail_options = {}
if EMAIL_BACKEND_NAME.endswith("smtp.EmailBackend"):
    _mail_options = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", default=False),
        "use_ssl": env_bool("EMAIL_USE_SSL", default=False),
        "timeout": env_int("EMAIL_TIMEOUT", 10),
    }
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_NAME, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "QuickBot <no-reply@quickbot.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation --------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# The admin writes dates in the portal's format (quickbot/formats/en/formats.py).
FORMAT_MODULE_PATH = ["quickbot.formats"]

# --- Static files -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security headers ---------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "quickbot.views.csrf_failure"

# Behind TLS in production; a proxy that terminates TLS sets X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ---------------------------------------------------------------------------
# Every handler redacts token values (a 404's path, runserver's request line, a traceback):
# apitokens/log_redaction.py. A handler added here needs the "redact_tokens" filter too, after
# "request_context" (the request's ID, method, path and user on each line: quickbot/logs.py).
# LOG_FORMAT=json writes one JSON object per line (for a log collector); plain by default.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
_LOG_FILTERS = ["request_context", "redact_tokens"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "quickbot.logs.RequestContextFilter"},
        "redact_tokens": {"()": "apitokens.log_redaction.TokenRedactingFilter"},
    },
    "formatters": {
        "plain": {
            "()": "quickbot.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "quickbot.logs.JsonFormatter"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": _LOG_FILTERS,
        },
        # Django's own handler for runserver's request log, with the filters added.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "django.server",
            "filters": _LOG_FILTERS,
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default config gives "django" a console handler of its own; its records
        # also reach the root's, so runserver printed every line twice.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # One line per request (quickbot/middleware.py); LOG_ACCESS=0 leaves it to the proxy.
        "quickbot.access": {"level": "INFO" if env_bool("LOG_ACCESS", default=True) else "WARNING"},
    },
}

# --- QuickBot product settings (each reads the environment variable of the same name) ---
QUICKBOT_MAX_TOKENS_PER_USER = env_int("QUICKBOT_MAX_TOKENS_PER_USER", 50)
QUICKBOT_API_HOURLY_LIMIT = env_int("QUICKBOT_API_HOURLY_LIMIT", 1000)
QUICKBOT_BAD_AUTH_LIMIT = env_int("QUICKBOT_BAD_AUTH_LIMIT", 100)
QUICKBOT_BAD_AUTH_WINDOW_SECONDS = env_int("QUICKBOT_BAD_AUTH_WINDOW_SECONDS", 600)
QUICKBOT_CREDENTIAL_REPORT_LIMIT = env_int("QUICKBOT_CREDENTIAL_REPORT_LIMIT", 60)
QUICKBOT_CREDENTIAL_REPORT_WINDOW_SECONDS = env_int(
    "QUICKBOT_CREDENTIAL_REPORT_WINDOW_SECONDS", 3600
)
QUICKBOT_RATELIMIT_FAIL_CLOSED = env_bool("QUICKBOT_RATELIMIT_FAIL_CLOSED", default=False)
QUICKBOT_TRUSTED_PROXY_COUNT = env_int("QUICKBOT_TRUSTED_PROXY_COUNT", 0)
QUICKBOT_LAST_USED_INTERVAL_SECONDS = env_int("QUICKBOT_LAST_USED_INTERVAL_SECONDS", 60)
QUICKBOT_ACTIVITY_RETENTION_DAYS = env_int("QUICKBOT_ACTIVITY_RETENTION_DAYS", 90)
QUICKBOT_LOGIN_FAILURE_LIMIT = env_int("QUICKBOT_LOGIN_FAILURE_LIMIT", 5)
QUICKBOT_LOGIN_LOCKOUT_SECONDS = env_int("QUICKBOT_LOGIN_LOCKOUT_SECONDS", 900)
QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = env_int("QUICKBOT_TOKEN_MAX_LIFETIME_DAYS", 0)
QUICKBOT_STALE_TOKEN_DAYS = env_int("QUICKBOT_STALE_TOKEN_DAYS", 60)
QUICKBOT_DEMO_PASSWORD = env_str("QUICKBOT_DEMO_PASSWORD", "quickbot-demo-2026")
QUICKBOT_SITE_URL = env_str("QUICKBOT_SITE_URL", "http://127.0.0.1:8000")
# Background work (e-mails, leak reports) as django.tasks tasks: stored in this database by
# django-tasks-db and run by `manage.py tasks_worker`, a second process (common/tasks.py).
# Any queue name is accepted; the worker runs every queue.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
# A failed task runs again after QUICKBOT_TASK_RETRY_SECONDS, doubling each time (at most an
# hour), until it has run QUICKBOT_TASK_MAX_ATTEMPTS times.
QUICKBOT_TASK_MAX_ATTEMPTS = env_int("QUICKBOT_TASK_MAX_ATTEMPTS", 8)
QUICKBOT_TASK_RETRY_SECONDS = env_int("QUICKBOT_TASK_RETRY_SECONDS", 30)
# A task still marked running this long after it started is taken to be abandoned by a worker
# that died (killed, its machine gone) and runs again; keep it above the longest task.
QUICKBOT_TASK_LEASE_SECONDS = env_int("QUICKBOT_TASK_LEASE_SECONDS", 600)
# /metrics answers these addresses only (allowlist syntax); every other client gets a 404.
QUICKBOT_METRICS_ALLOWED_IPS = env_str("QUICKBOT_METRICS_ALLOWED_IPS", "127.0.0.1, ::1")
# API activity rows are buffered per process and written in batches (0 = one INSERT per
# request, inside the request); see docs/performance.md.
QUICKBOT_ACTIVITY_BUFFER_SIZE = env_int("QUICKBOT_ACTIVITY_BUFFER_SIZE", 200)
QUICKBOT_ACTIVITY_FLUSH_SECONDS = env_int("QUICKBOT_ACTIVITY_FLUSH_SECONDS", 2)
# PostgreSQL: run the per-request token lookup as a prepared statement (off behind
# PgBouncer < 1.21 in transaction pooling, which cannot keep prepared statements).
QUICKBOT_PREPARED_TOKEN_LOOKUP = env_bool("QUICKBOT_PREPARED_TOKEN_LOOKUP", default=True)
# The API's token lookup through apitokens/api/internals.py (off: the plain ORM, e.g. should a
# Django upgrade break the fast path before a fix ships).
QUICKBOT_FAST_TOKEN_LOOKUP = env_bool("QUICKBOT_FAST_TOKEN_LOOKUP", default=True)
# Password reset emails sent to one address per hour; further requests get the same
# "check your email" page but send nothing (no email bombing through the reset form).
QUICKBOT_PASSWORD_RESET_EMAILS_PER_HOUR = env_int("QUICKBOT_PASSWORD_RESET_EMAILS_PER_HOUR", 3)
# Account security (issue 13): email verification links, sign-up limiter.
QUICKBOT_EMAIL_VERIFICATION_SECONDS = env_int("QUICKBOT_EMAIL_VERIFICATION_SECONDS", 3 * 24 * 3600)
QUICKBOT_SIGNUP_LIMIT = env_int("QUICKBOT_SIGNUP_LIMIT", 10)
QUICKBOT_SIGNUP_WINDOW_SECONDS = env_int("QUICKBOT_SIGNUP_WINDOW_SECONDS", 3600)
# Sudo mode: creating, regenerating or editing a token needs a password entered this recently.
QUICKBOT_SUDO_SECONDS = env_int("QUICKBOT_SUDO_SECONDS", 900)
# Webhooks (apitokens/webhooks/): each attempt's timeout, and whether a receiver may be on a
# private or loopback address over plain http:// (a local receiver in development only).
QUICKBOT_WEBHOOKS_TIMEOUT_SECONDS = env_int("QUICKBOT_WEBHOOKS_TIMEOUT_SECONDS", 5)
QUICKBOT_WEBHOOKS_ALLOW_PRIVATE = env_bool("QUICKBOT_WEBHOOKS_ALLOW_PRIVATE", default=False)
