"""Staff see a spray of unknown tokens: in the dashboard's 401 figure, with the suspicious
events, and in the security-event list (an event of no account)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from apitokens import tokens
from apitokens.api import limits
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, staff_user

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:apitokens_dashboard")


@pytest.fixture
def sprayed(client, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    limits.reset_local_counters()
    for _ in range(12):
        client.get(
            "/api/v1/me/",
            headers={"Authorization": f"Bearer {tokens.generate_token()}"},
            REMOTE_ADDR="198.51.100.66",
        )


@pytest.fixture
def staff_client(client):
    client.force_login(staff_user(*AUDIT_VIEW_PERMISSIONS))
    return client


def test_dashboard_counts_unknown_tokens_as_401s_and_lists_the_spray(sprayed, staff_client):
    response = staff_client.get(DASHBOARD)
    assert response.status_code == HTTPStatus.OK
    assert response.context["unauthorized_day"] == 12
    assert response.context["unauthorized_week"] == 12
    spray = [event for event in response.context["suspicious"] if event.ip == "198.51.100.66"]
    assert [(event.title, event.count) for event in spray] == [("Unknown tokens presented", 12)]
    assert "Unknown tokens presented" in response.text


def test_security_event_list_shows_an_event_of_no_account(sprayed, staff_client):
    url = reverse("admin:apitokens_securityevent_changelist")
    response = staff_client.get(url, {"q": "198.51.100.66"})
    assert response.status_code == HTTPStatus.OK
    assert "Unknown tokens presented" in response.text
    assert "an API client" in response.text


def test_an_event_of_no_account_opens_in_the_admin(sprayed, staff_client):
    from apitokens.models import SecurityEvent

    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.UNKNOWN_TOKENS)
    response = staff_client.get(reverse("admin:apitokens_securityevent_change", args=[event.pk]))
    assert response.status_code == HTTPStatus.OK
    assert "198.51.100.66" in response.text
