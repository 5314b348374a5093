from http import HTTPStatus

import pytest
from django.test import Client

from apitokens.models import SecurityEvent, WebhookDelivery, WebhookEndpoint
from apitokens.webhooks.services import ENDPOINTS_PER_OWNER
from tests.accounts.factories import UserFactory
from tests.apitokens.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db
LIST = "/account/webhooks/"
ADD = "/account/webhooks/add/"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """Names resolve to a public address (no DNS in tests); 'internal.example' does not."""

    def resolve(host, port):
        return ["10.0.0.8"] if host == "internal.example" else ["93.184.216.34"]

    monkeypatch.setattr("apitokens.webhooks.addresses.system_resolve", resolve)


def add(client, url="https://hooks.example.com/quickbot", events=("token.created",), **extra):
    return client.post(
        ADD, {"url": url, "description": "Alerts", "event_types": list(events), **extra}
    )


def test_the_page_lists_the_form_and_links_from_account_settings(user_client):
    response = user_client.get(LIST)
    assert response.status_code == HTTPStatus.OK
    assert b"Add a webhook" in response.content
    assert b'href="/account/webhooks/" aria-current="page">Webhooks' in response.content


def test_adding_shows_the_secret_once(user_client, user):
    response = add(user_client, events=("token.created", "token.deleted"))
    assert response.status_code == HTTPStatus.OK
    endpoint = WebhookEndpoint.objects.get(owner=user)
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret.encode() in response.content
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    assert endpoint.event_type_list == ["token.created", "token.deleted"]
    page = user_client.get(LIST)
    assert endpoint.secret.encode() not in page.content
    assert b"hooks.example.com/quickbot" in page.content
    assert SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.WEBHOOK_ADDED, account=user
    ).exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ('<script>alert("x")</script>', b"https://"),
        ("https://hooks.example.com/\x00", b"Null characters are not allowed."),
        ("https://" + "a" * 2100 + ".com/", b"The URL is too long"),
        ("https://127.0.0.1/hooks", b"loopback"),
        ("https://internal.example/hooks", b"private address"),
        ("http://hooks.example.com/", b"must start with https://"),
        ("", b"This field is required."),
    ],
)
def test_bad_urls_re_render_the_form_with_a_message(user_client, url, message):
    response = add(user_client, url=url)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content
    assert b"<script>alert" not in response.content
    assert not WebhookEndpoint.objects.exists()


def test_events_must_be_chosen_from_the_list(user_client):
    assert b"Choose at least one event" in add(user_client, events=()).content
    response = add(user_client, events=("audit.security_event",))
    assert b"Choose events from the list." in response.content
    assert not WebhookEndpoint.objects.exists()


def test_an_unconfirmed_address_cannot_add_a_webhook(client):
    client.force_login(UserFactory(email_verified_at=None))
    response = add(client)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"Confirm your email address" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_an_account_has_at_most_a_few_endpoints(user_client, user):
    for number in range(ENDPOINTS_PER_OWNER):
        make_endpoint(owner=user, url=f"https://hooks.example.com/{number}")
    response = add(user_client)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"at most" in response.content
    assert user.webhook_endpoints.count() == ENDPOINTS_PER_OWNER


def test_adding_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = add(client)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not WebhookEndpoint.objects.exists()


def test_signed_out_visitors_are_sent_to_login(client):
    response = client.get(LIST)
    assert response.status_code == HTTPStatus.FOUND
    assert "/account/login/" in response["Location"]


def test_deleting_asks_then_deletes_and_a_second_submit_is_a_404(user_client, user):
    endpoint = make_endpoint(owner=user, url="https://hooks.example.com/x")
    url = f"/account/webhooks/{endpoint.pk}/delete/"
    assert b"Delete webhook" in user_client.get(url).content
    response = user_client.post(url)
    assert response.status_code == HTTPStatus.FOUND
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.WEBHOOK_DELETED).count() == 1
    assert user_client.post(url).status_code == HTTPStatus.NOT_FOUND


def test_another_accounts_endpoint_is_a_404(user_client, other_user):
    endpoint = make_endpoint(owner=other_user, url="https://hooks.example.com/theirs")
    url = f"/account/webhooks/{endpoint.pk}/delete/"
    assert user_client.get(url).status_code == HTTPStatus.NOT_FOUND
    assert user_client.post(url).status_code == HTTPStatus.NOT_FOUND
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert b"hooks.example.com/theirs" not in user_client.get(LIST).content


def test_a_huge_endpoint_id_is_a_404(user_client):
    response = user_client.get("/account/webhooks/99999999999999999999999/delete/")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_the_page_shows_the_owners_recent_deliveries_only(user_client, user, other_user):
    mine = make_endpoint(owner=user, url="https://hooks.example.com/mine")
    theirs = make_endpoint(owner=other_user, url="https://hooks.example.com/theirs")
    WebhookDelivery.objects.create(
        endpoint=mine,
        message_id="msg_mine",
        event_type="token.deleted",
        body="{}",
        status=WebhookDelivery.Status.RETRYING,
        attempts=2,
        status_code=500,
        response_ms=42,
        error="Answered 500.",
    )
    WebhookDelivery.objects.create(
        endpoint=theirs, message_id="msg_theirs", event_type="token.paused", body="{}"
    )
    content = user_client.get(LIST).content
    assert b"token.deleted" in content and b"HTTP 500" in content and b"42 ms" in content
    assert b"hooks.example.com/theirs" not in content
