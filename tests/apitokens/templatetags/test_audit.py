"""The owner's template tags (apitokens/templatetags/audit.py): the dead-token alert banner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration")
    return token


def detail_url(token) -> str:
    return reverse("apitokens:detail", args=[token.public_id])


# --- The alert banner on the API Tokens page ----------------------------------------------------


def _render_alerts(user) -> str:
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/account/tokens/")
    request.user = user
    return Template("{% load audit %}{% security_alerts %}").render(Context({"request": request}))


def test_alert_banner_names_the_dead_token_count_ip_and_links_to_details(user, token):
    services.api_token_revoke(token=token, actor=user)
    now = timezone.now()
    for seconds in (0, 1, 2):  # seconds apart: still "today" just after midnight
        services.api_token_dead_use_record(
            token=token,
            client=services.ClientInfo(ip="203.0.113.7"),
            now=now - timedelta(seconds=seconds),
        )
    html = _render_alerts(user)
    assert "Deleted token ‘Production Website Integration’ was used 3 times" in html
    assert '<code class="ip">203.0.113.7</code>' in html
    assert "today" in html
    assert detail_url(token) in html


def test_no_banner_without_recent_dead_token_use(user, token, other_user):
    theirs, _raw = create_token(other_user, "Someone else's")
    services.api_token_revoke(token=theirs, actor=other_user)
    services.api_token_dead_use_record(token=theirs, client=services.ClientInfo(ip="203.0.113.7"))
    assert "security-alert" not in _render_alerts(user)
    from django.contrib.auth.models import AnonymousUser

    assert _render_alerts(AnonymousUser()).strip() == ""
