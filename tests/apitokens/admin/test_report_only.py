"""Report-only IP allowlists in the admin: the activity changelist's filter "Outside
allowlist (report only)" (apitokens/admin/filters.py) with its row mark, the token admin's
Report only mark, and the policy filter counting a report-only list as none."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.models import TokenPolicy
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

ACTIVITY_LIST = reverse("admin:apitokens_tokenactivity_changelist")
TOKEN_LIST = reverse("admin:apitokens_apitoken_changelist")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def report_only(user):
    token, _ = create_token(
        user, "Warehouse sync job", allowed_ips="203.0.113.0/24", allowlist_report_only=True
    )
    now = timezone.now()
    add_activity(token, count=2, at=now - timedelta(hours=2), outside_allowlist=True)
    add_activity(token, count=3, at=now - timedelta(hours=1), ip="203.0.113.9")
    return token


def test_activity_filter_lists_only_rows_outside_the_allowlist(admin_client, report_only):
    response = admin_client.get(ACTIVITY_LIST, {"outside_allowlist": "yes"})
    assert response.status_code == HTTPStatus.OK
    rows = response.context["cl"].result_list
    assert len(rows) == 2 and all(row.outside_allowlist for row in rows)
    assert "Outside allowlist (report only)" in response.text
    assert response.text.count(">Outside allowlist</span>") == 2
    everything = admin_client.get(ACTIVITY_LIST)
    assert len(everything.context["cl"].result_list) == 5


@pytest.mark.parametrize("value", ["no", "1", "", "<script>", "yes\x00", "x" * 3000])
def test_odd_values_of_the_filter_are_ignored(admin_client, report_only, value):
    response = admin_client.get(ACTIVITY_LIST, {"outside_allowlist": value})
    assert response.status_code < 500
    if response.status_code == HTTPStatus.OK:
        assert len(response.context["cl"].result_list) == 5


def test_token_admin_marks_a_report_only_allowlist(admin_client, report_only, user):
    page = admin_client.get(reverse("admin:apitokens_apitoken_change", args=[report_only.pk]))
    assert page.status_code == HTTPStatus.OK
    assert ">Report only</span>" in page.text
    enforced, _ = create_token(user, "Office job", allowed_ips="203.0.113.7")
    page = admin_client.get(reverse("admin:apitokens_apitoken_change", args=[enforced.pk]))
    assert "203.0.113.7" in page.text and ">Report only</span>" not in page.text


def test_policy_filter_lists_report_only_tokens_as_breaking(admin_client, report_only, user):
    enforced, _ = create_token(user, "Office job", allowed_ips="203.0.113.7")
    policy = TokenPolicy.current()
    policy.allowlist_required = True
    services.token_policy_save(policy=policy, actor=None)
    response = admin_client.get(TOKEN_LIST, {"policy": "breaks"})
    names = {token.name for token in response.context["cl"].result_list}
    assert "Warehouse sync job" in names and "Office job" not in names
