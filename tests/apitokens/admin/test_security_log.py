"""The security log admin (apitokens/admin/security_log.py): filters and search, leak reports with
their counts, events of no account."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services, tokens
from apitokens.models import SecurityEvent
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

URL = "/api/v1/credentials/revoke"


REPORTER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "quickbot-scan/1"}


def report(client, values, **extra):
    return client.post(
        URL,
        json.dumps({"credentials": values}),
        content_type="application/json",
        **REPORTER,
        **extra,
    )


def unknown_value():
    return tokens.generate_token()


@pytest.mark.django_db
def test_staff_see_reports_with_their_counts(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the report's task runs
        report(client, [unknown_value()])
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:apitokens_securityevent_changelist")).content.decode()
    assert "Leaked tokens reported" in page
    assert "1 submitted, 1 well-formed, 0 revoked" in page


EVENT_LIST = reverse("admin:apitokens_securityevent_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.django_db
# --- Security event changelist ----------------------------------------------------------------


def test_security_events_filter_by_kind_and_search_by_account_and_ip(
    admin_client, user, other_user
):
    first, _raw = create_token(user, "Production Website Integration")
    services.security_event_record(
        kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
        account=user,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=first,
        client=services.ClientInfo(ip="203.0.113.7"),
    )
    create_token(other_user, "Mobile App Backend")
    assert admin_client.get(EVENT_LIST).context["cl"].result_count == 3
    by_kind = admin_client.get(EVENT_LIST, {"kind__exact": "deleted_token_used"})
    assert by_kind.context["cl"].result_count == 1
    assert admin_client.get(EVENT_LIST, {"q": "203.0.113.7"}).context["cl"].result_count == 1
    assert admin_client.get(EVENT_LIST, {"q": "grace@"}).context["cl"].result_count == 1
    assert admin_client.get(EVENT_LIST, {"q": "not an ip"}).status_code == HTTPStatus.OK
    # The same aware value DateFieldListFilter's "Today" link carries.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    recent = admin_client.get(EVENT_LIST, {"created_at__gte": str(midnight)})
    assert recent.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_security_event_list_shows_an_event_of_no_account(sprayed, staff_client):
    url = reverse("admin:apitokens_securityevent_changelist")
    response = staff_client.get(url, {"q": "198.51.100.66"})
    assert response.status_code == HTTPStatus.OK
    assert "Unknown tokens presented" in response.text
    assert "an API client" in response.text


@pytest.mark.django_db
def test_an_event_of_no_account_opens_in_the_admin(sprayed, staff_client):
    from apitokens.models import SecurityEvent

    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.UNKNOWN_TOKENS)
    response = staff_client.get(reverse("admin:apitokens_securityevent_change", args=[event.pk]))
    assert response.status_code == HTTPStatus.OK
    assert "198.51.100.66" in response.text
