"""Issue 22, fault 9: the admin in the portal's words. A badge only on flagged requests,
Detail beside each security event, a deleted token's refused requests said as such, and
Created Date / Last Used / Last used IP / Delete… as the owner's pages say them."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.admin.tokens import requests_text
from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")
ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")
EVENT_LIST = reverse("admin:apitokens_securityevent_changelist")


def cells(response, column: str) -> list[str]:
    return re.findall(rf'<td class="field-{column}[^"]*">(.*?)</td>', response.text, re.S)


def test_only_flagged_requests_get_a_badge(admin_client, user):
    token, _raw = create_token(user, "CI runner")
    now = timezone.now()
    add_activity(token, count=2, at=now - timedelta(hours=2))
    add_activity(token, count=1, at=now - timedelta(hours=1), status=401, flagged=True)
    flagged = cells(admin_client.get(ACTIVITY_LIST), "flagged_badge")
    assert len(flagged) == 3
    badges = [cell for cell in flagged if "audit-badge-warning" in cell]
    assert len(badges) == 1 and "Flagged" in badges[0]
    # Normal requests: nothing at all, no red cross, no dash.
    assert sorted(cell.strip() for cell in flagged if cell not in badges) == ["", ""]
    assert "icon-no" not in admin_client.get(ACTIVITY_LIST).text


@pytest.mark.parametrize(
    ("requests", "refused", "status", "text"),
    [
        (7, 0, "active", "7"),
        (0, 0, "deleted", "0"),
        (14, 14, "deleted", "14 (refused: token deleted)"),
        (3, 3, "expired", "3 (refused: token expired)"),
        (20, 6, "active", "20 (6 refused)"),
        (20, 6, "deleted", "20 (6 refused)"),
    ],
)
def test_requests_text_says_which_were_refused(requests, refused, status, text):
    assert requests_text(requests=requests, refused=refused, status=status) == text


def test_a_deleted_tokens_requests_are_said_to_be_refused(admin_client, user):
    token, _raw = create_token(user, "CI runner")
    now = timezone.now()
    add_activity(token, count=3, at=now - timedelta(days=4))
    services.api_token_revoke(token=token, actor=user, now=now - timedelta(days=3))
    add_activity(token, count=14, at=now - timedelta(hours=3), status=401, flagged=True)
    response = admin_client.get(TOKEN_LIST)
    assert cells(response, "requests_24h") == ["14 (refused: token deleted)"]


def test_token_list_and_page_use_the_portals_words(admin_client, user):
    token, _raw = create_token(user, "CI runner")
    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(), last_used_ip="198.51.100.23"
    )
    listing = admin_client.get(TOKEN_LIST).text
    assert "Created Date" in listing and "Last Used" in listing
    assert "Delete selected tokens…" in listing
    assert "revoke)" not in listing
    page = admin_client.get(reverse("admin:apitokens_apitoken_change", args=[token.pk])).text
    for label in ("Created Date", "Last Used", "Last used IP", "Expires"):
        assert f">{label}:</label>" in page, label
    assert "Last used ip" not in page and "Created at" not in page
    assert "198.51.100.23" in page


def test_revoke_confirmation_says_delete(admin_client, user):
    token, _raw = create_token(user, "CI runner")
    response = admin_client.post(
        TOKEN_LIST, {"action": "revoke_selected", "_selected_action": [token.pk]}
    )
    assert response.status_code == HTTPStatus.OK
    assert 'value="Yes, delete 1 token"' in response.text
    assert "revoke)" not in response.text


def test_security_events_list_shows_what_changed_and_repeats_in_detail(admin_client, user):
    token, _raw = create_token(user, "Office backup job")
    services.api_token_update_allowed_ips(token=token, allowed_ips="203.0.113.7", actor=user)
    services.api_token_revoke(token=token, actor=user)
    event = services.security_event_record(
        kind=SecurityEvent.Kind.DELETED_TOKEN_USED,
        account=user,
        actor_kind=SecurityEvent.Actor.TOKEN,
        token=token,
    )
    SecurityEvent.objects.filter(pk=event.pk).update(count=12)
    response = admin_client.get(EVENT_LIST)
    details = cells(response, "detail_display")
    assert "From “any address” to “203.0.113.7”" in details
    assert any(
        cell.startswith("Refused: the token was deleted · ")
        and '<span class="audit-nowrap">12 times</span>, the last' in cell
        for cell in details
    )
    # The count and last-seen columns folded into Detail; "owner" rather than a phrase.
    assert "field-last_seen" not in response.text and "field-count" not in response.text
    assert "the account owner" not in response.text and ">owner</td>" in response.text
