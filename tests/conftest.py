import pytest
from django.core.cache import cache

from apitokens.api import limits
from apitokens.policy import policy_forget
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit and login-limit counters live in the cache and in the process (the API's
    without Redis): start each test clean."""
    cache.clear()
    limits.reset_local_counters()
    limits.counters_forget()
    policy_forget()  # the token policy memo, like the counters, must not leak across tests
    yield
    cache.clear()
    limits.reset_local_counters()
    limits.counters_forget()
    policy_forget()


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
