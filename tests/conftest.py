import logging

import pytest
from redis.exceptions import AskError, MovedError

from quickbot.process_state import process_state_reset
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.live_server import SharedConnectionWSGIServer


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Counters, buffers and memos live in the cache and in the process: start and end
    each test clean."""
    process_state_reset()
    yield
    process_state_reset()


@pytest.fixture(scope="session", autouse=True)
def _live_server_one_request_at_a_time():
    """pytest-django's live server, with requests that share the test's in-memory SQLite
    connection handled one at a time (tests/live_server.py)."""
    from django.test.testcases import LiveServerThread

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiveServerThread, "server_class", SharedConnectionWSGIServer)
        yield


DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}


def run_queued_tasks() -> int:
    """Run every task queued in the database now, in this thread, as the worker would;
    returns how many ran."""
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    before = DBTaskResult.objects.finished().count()
    # The worker closes "old" connections between tasks; inside a test's transaction that
    # would close the test's own connection (PostgreSQL: "the connection is closed").
    original, db_worker.close_old_connections = db_worker.close_old_connections, lambda: None
    try:
        _worker_run(Worker)
    finally:
        db_worker.close_old_connections = original
    return DBTaskResult.objects.finished().count() - before


def _worker_run(Worker) -> None:
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="pytest",
        excluded_queue_names=[],
    ).run()


@pytest.fixture
def durable_tasks(settings):
    """Tasks stored in the database as in production (not run by the request); call the
    fixture's value to run those queued so far."""
    settings.TASKS = DATABASE_TASKS
    return run_queued_tasks


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.com", display_name="Ada Lovelace")


@pytest.fixture
def other_user(db):
    return UserFactory(email="grace@example.com", display_name="Grace Hopper")


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


# Loggers of the paths that serve without Redis when it does not answer.
FAIL_OPEN_LOGGERS = ("apitokens.api.limits", "accounts.login_limiter")


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.redirections: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, MovedError | AskError):
                self.redirections.append(f"{record.name}: {type(error).__name__} {error}")
            error = error.__cause__ or error.__context__


@pytest.fixture
def redirections_expected():
    """Lets a test put a MOVED or ASK error on the fail-open path on purpose."""


@pytest.fixture(autouse=True)
def _no_redirection_reaches_the_fail_open_path(request):
    """A cluster's MOVED or ASK is routing, not an outage: it must be followed, never turn a
    limit off (issue 25). Fails any test whose fail-open path logged one."""
    recorder = _Recorder()
    loggers = [logging.getLogger(name) for name in FAIL_OPEN_LOGGERS]
    for logger in loggers:
        logger.addHandler(recorder)
    yield
    for logger in loggers:
        logger.removeHandler(recorder)
    if "redirections_expected" not in request.fixturenames:
        assert recorder.redirections == [], "a redirection reached the fail-open path"
