"""Issue 22, fault 8: the owner's security log says what changed, from what, to what (the
same line the admin shows), and the owner's pages name the browser, raw header on hover."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import AccountEvent
from accounts.services import account_event_record
from apitokens import services
from apitokens.event_details import security_event_details
from apitokens.models import SecurityEvent
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def security_log_rows(html: str) -> list[str]:
    section = html.split('id="security-log"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", section.split("<tbody>", 1)[-1], re.S)


def test_owner_sees_the_allowlist_change_from_and_to(user_client, user, admin_client):
    token, _raw = create_token(user, "Office backup job")
    edit = reverse("apitokens:edit", args=[token.public_id])
    user_client.post(edit, {"name": token.name, "scopes": ["read"], "allowed_ips": "203.0.113.7"})
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).text
    row = next(row for row in security_log_rows(page) if "IP allowlist changed" in row)
    assert "From “any address” to “203.0.113.7”" in row
    # The admin's Detail column says exactly the same.
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.ALLOWLIST_CHANGED)
    admin_page = admin_client.get(reverse("admin:apitokens_securityevent_changelist")).text
    assert security_event_details(event) in admin_page
    assert security_event_details(event) == "From “any address” to “203.0.113.7”"


def test_owner_sees_why_a_dead_token_event_matters(user_client, user):
    token, _raw = create_token(user, "CI runner")
    services.api_token_revoke(token=token, actor=user)
    services.api_token_dead_use_record(token=token, client=services.ClientInfo(ip="203.0.113.9"))
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).text
    row = next(row for row in security_log_rows(page) if "Deleted token used" in row)
    assert "Refused: the token was deleted" in row


def test_escaped_detail_stays_text(user_client, user):
    token, _raw = create_token(user, "Office backup job")
    services.security_event_record(
        kind=SecurityEvent.Kind.RENAMED,
        account=user,
        actor_kind=SecurityEvent.Actor.USER,
        token=token,
        detail="Renamed from “<img src=x onerror=alert(1)>”",
    )
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).text
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_token_activity_names_the_client_with_the_header_in_a_tooltip(user_client, user):
    from django.utils import timezone

    token, _raw = create_token(user, "CI runner")
    add_activity(token, count=1, at=timezone.now())
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).text
    assert '<span class="user-agent" title="curl/8.5.0">curl</span>' in page


def test_security_page_names_the_browser_with_the_header_in_a_tooltip(user_client, user):
    AccountEvent.objects.create(
        user=user, kind=AccountEvent.Kind.SIGNED_IN, ip="198.51.100.5", user_agent=FIREFOX
    )
    # Through the service, which drops the NUL a PostgreSQL text column refuses.
    hostile = RequestFactory().get("/", headers={"User-Agent": '<b onclick="x">\x00'})
    account_event_record(user=user, kind=AccountEvent.Kind.SIGNED_IN, request=hostile)
    AccountEvent.objects.create(user=user, kind=AccountEvent.Kind.SIGNED_IN, user_agent="")
    page = user_client.get(reverse("accounts:security")).text
    assert f'<span class="user-agent" title="{FIREFOX}">Firefox on Linux</span>' in page
    assert "<b onclick" not in page and "\x00" not in page
    assert re.search(r'data-label="Browser" class="small">unknown</td>', page)
