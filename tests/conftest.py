import logging

import pytest
from redis.exceptions import AskError, MovedError

from quickbot.process_state import process_state_reset
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Counters, buffers and memos live in the cache and in the process: start and end
    each test clean."""
    process_state_reset()
    yield
    process_state_reset()


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
