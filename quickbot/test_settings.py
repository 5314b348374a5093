"""Settings for the test suite: local defaults, a fast password hasher, and a Redis database
of its own for each pytest-xdist worker."""

import os
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("LOCAL_RUN", "1")

from quickbot.settings import *  # noqa: E402,F403
from quickbot.settings import PASSWORD_HASHERS as PRODUCTION_PASSWORD_HASHERS  # noqa: E402

# Argon2 is deliberately slow; tests hash hundreds of passwords. A test asserts
# that PRODUCTION_PASSWORD_HASHERS still starts with Argon2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PRODUCTION_PASSWORD_HASHERS]
DEBUG = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Tasks (e-mails, leak reports) run in the enqueuing thread once the transaction commits:
# deterministic tests. The worker's own tests use the database backend.
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": []}}
# Tests never run collectstatic: serve static files from the finders, as runserver does.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Write each API activity row inside its request, so tests see it at once.
QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def _redis_url_for_worker(url: str, worker: str, *, step: int = 1) -> str:
    """`url` with its database number moved by `step` times the pytest-xdist worker's index
    (gw2, step 1: +2), wrapping around Redis's 16 databases."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + step * int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database % 16}"))


# pytest-xdist runs the suite in several processes (PYTEST_XDIST_WORKER is gw0, gw1, …) and
# Redis tests end with FLUSHDB: each process gets a database of its own (of Redis's 16), so one
# worker never empties another's counters. A subprocess a test starts inherits the moved URLs.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.environ.get("QUICKBOT_TEST_REDIS_WORKER") != _WORKER:
    os.environ["QUICKBOT_TEST_REDIS_WORKER"] = _WORKER
    if REDIS_URL:  # noqa: F405
        if REDIS_CLUSTER:  # noqa: F405
            raise ImproperlyConfigured(
                "Redis Cluster has database 0 only: run its tests in one process (pytest -n 0)"
            )
        REDIS_URL = os.environ["REDIS_URL"] = _redis_url_for_worker(REDIS_URL, _WORKER)  # noqa: F405
        CACHES["default"]["LOCATION"] = os.environ["QUICKBOT_TEST_REDIS_URL"] = REDIS_URL  # noqa: F405
    else:  # the local Redis of the SQLite run's Redis tests: databases 15, 14, … down
        os.environ["QUICKBOT_TEST_REDIS_URL"] = _redis_url_for_worker(
            os.environ.get("QUICKBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            _WORKER,
            step=-1,
        )
