"""gunicorn settings for the benchmark: the production ones."""

from quickbot.gunicorn_conf import worker_exit  # noqa: F401
