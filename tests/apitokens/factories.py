import itertools

from apitokens import services
from tests.accounts.factories import UserFactory

_names = itertools.count(1)


def create_token(user=None, name=None, **kwargs):
    """Create a token through the real service; returns (token, raw_value)."""
    user = user or UserFactory()
    name = name or f"Integration service {next(_names)}"
    return services.api_token_create(user=user, name=name, **kwargs)
