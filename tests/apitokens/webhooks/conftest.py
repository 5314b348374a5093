import pytest

from apitokens.models import WebhookEndpoint
from apitokens.webhooks.signing import webhook_secret_new
from tests.apitokens.webhooks.receiver import Receiver


@pytest.fixture
def local_receivers(settings):
    """A receiver on 127.0.0.1 over http:// is allowed (as in development)."""
    settings.QUICKBOT_WEBHOOKS_ALLOW_PRIVATE = True
    settings.QUICKBOT_WEBHOOKS_TIMEOUT_SECONDS = 1


@pytest.fixture
def receiver(local_receivers):
    with Receiver() as running:
        yield running


def make_endpoint(*, owner, url, event_types=("token.created",), **kwargs) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        owner=owner,
        url=url,
        secret=webhook_secret_new(),
        event_types=" ".join(event_types),
        **kwargs,
    )
