from http import HTTPStatus

import pytest

from apitokens.models import WebhookDelivery, WebhookEndpoint
from tests.accounts.factories import UserFactory
from tests.apitokens.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db
ADD = "/admin/apitokens/webhookendpoint/add/"


@pytest.fixture
def admin_client(client, monkeypatch):
    monkeypatch.setattr(
        "apitokens.webhooks.addresses.system_resolve", lambda host, port: ["93.184.216.34"]
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_staff_add_an_audit_stream_endpoint_and_see_its_secret_once(admin_client):
    response = admin_client.post(
        ADD,
        {
            "url": "https://siem.example.com/quickbot",
            "description": "SIEM",
            "event_types": ["audit.security_event", "audit.account_event"],
            "enabled": "on",
        },
    )
    assert response.status_code == HTTPStatus.OK
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.owner is None
    assert endpoint.secret.encode() in response.content
    change = admin_client.get(f"/admin/apitokens/webhookendpoint/{endpoint.pk}/change/")
    assert change.status_code == HTTPStatus.OK
    assert endpoint.secret.encode() not in change.content


def test_the_admin_refuses_private_urls_and_audit_streams_for_owners(admin_client, user):
    response = admin_client.post(
        ADD, {"url": "https://10.0.0.1/", "event_types": ["token.created"], "enabled": "on"}
    )
    assert b"private address" in response.content
    response = admin_client.post(
        ADD,
        {
            "url": "https://hooks.example.com/",
            "owner": user.pk,
            "event_types": ["audit.security_event"],
            "enabled": "on",
        },
    )
    assert b"Only staff endpoints" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_lists_attempts_read_only(admin_client, user):
    endpoint = make_endpoint(owner=user, url="https://hooks.example.com/x")
    WebhookDelivery.objects.create(
        endpoint=endpoint, message_id="msg_1", event_type="token.created", body="{}"
    )
    response = admin_client.get("/admin/apitokens/webhookdelivery/")
    assert response.status_code == HTTPStatus.OK
    assert b"token.created" in response.content
    assert admin_client.get("/admin/apitokens/webhookdelivery/add/").status_code == 403
