"""Settings for the test suite: local defaults plus a fast password hasher."""

import os

os.environ.setdefault("LOCAL_RUN", "1")

from quickbot.settings import *  # noqa: E402,F403
from quickbot.settings import PASSWORD_HASHERS as PRODUCTION_PASSWORD_HASHERS  # noqa: E402

# Argon2 is deliberately slow; tests hash hundreds of passwords. A test asserts
# that PRODUCTION_PASSWORD_HASHERS still starts with Argon2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PRODUCTION_PASSWORD_HASHERS]
DEBUG = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
QUICKBOT_EMAIL_ASYNC = False  # notification emails go out synchronously: deterministic tests
# Tests never run collectstatic: serve static files from the finders, as runserver does.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Write each API activity row inside its request, so tests see it at once.
QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
