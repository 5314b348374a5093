"""Benchmark settings: production settings plus two comparison views (see bench/urls.py).

Limits are raised so that no request of the benchmark is refused for volume: the counters
are still incremented on every request, which is the cost being measured.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")

from bench.layout import dotted_path  # noqa: E402
from quickbot.settings import *  # noqa: E402,F403

# The bearer middleware from whichever module the measured tree has (it moved into
# `apitokens.api`); an A/B run measures trees from both sides of the move.
MIDDLEWARE = [  # noqa: F405
    dotted_path("ApiTokenMiddleware") if entry.endswith(".ApiTokenMiddleware") else entry
    for entry in MIDDLEWARE  # noqa: F405
]

DEBUG = False
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
QUICKBOT_API_HOURLY_LIMIT = 1_000_000_000
QUICKBOT_BAD_AUTH_LIMIT = 1_000_000_000
QUICKBOT_ACTIVITY_BUFFER_SIZE = int(os.environ.get("QUICKBOT_ACTIVITY_BUFFER_SIZE", "200"))
# Expected 4xx answers must not be logged one line per request during the benchmark.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
    "loggers": {"django": {"level": "ERROR"}, "gunicorn": {"level": "WARNING"}},
}
# No collectstatic for a benchmark: plain static storage (pages only link to the files).
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
