"""The staff API usage dashboard (apitokens/admin/dashboard.py): who sees the link, and what it
counts (refused addresses, unknown tokens)."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import selectors
from tests.apitokens.activity_factories import staff_user
from tests.apitokens.factories import create_token

DASHBOARD = reverse("admin:apitokens_dashboard")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_admin_index_links_the_dashboard_only_for_those_who_may_see_it(client, admin_client):
    assert DASHBOARD in admin_client.get(reverse("admin:index")).text
    client.force_login(staff_user("apitokens.view_apitoken"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == HTTPStatus.OK
    assert DASHBOARD not in response.text


ME = "/api/v1/me/"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_refusals_are_counted_for_the_dashboard_and_filterable(client, user, admin_client):
    token, raw = create_token(user, allowed_ips="203.0.113.7")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="198.51.100.9")
    client.get(ME, headers=bearer(raw), REMOTE_ADDR="203.0.113.7")
    counts = selectors.status_counts(since=timezone.now() - timedelta(hours=1))
    assert counts[403] == 1
    assert list(selectors.token_activity(token=token, status_class="403").values_list("ip"))
    dashboard = admin_client.get(reverse("admin:apitokens_dashboard")).content.decode()
    assert "403 forbidden" in dashboard
    assert "?status_class=403" in dashboard


@pytest.mark.django_db
def test_dashboard_counts_unknown_tokens_as_401s_and_lists_the_spray(sprayed, staff_client):
    response = staff_client.get(DASHBOARD)
    assert response.status_code == HTTPStatus.OK
    assert response.context["unauthorized_day"] == 12
    assert response.context["unauthorized_week"] == 12
    spray = [event for event in response.context["suspicious"] if event.ip == "198.51.100.66"]
    assert [(event.title, event.count) for event in spray] == [("Unknown tokens presented", 12)]
    assert "Unknown tokens presented" in response.text
