import pytest

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
