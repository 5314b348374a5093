"""A token's own page (apitokens/views/detail.py) and the show-once modal's first-request line."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.activity_factories import add_activity, staff_user
from tests.apitokens.factories import create_token


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_token_page_shows_the_list(user_client, user):
    token, _ = create_token(user, "Office backup job", allowed_ips="203.0.113.7\n2001:db8::/32")
    page = user_client.get(reverse("apitokens:detail", args=[token.public_id])).content.decode()
    assert '<code class="allowlist-entry">203.0.113.7</code>' in page
    assert "2001:db8::/32" in page
    other, _ = create_token(user, "Nightly export job")
    page = user_client.get(reverse("apitokens:detail", args=[other.public_id])).content.decode()
    assert "Any address" in page


def detail_url(token) -> str:
    return reverse("apitokens:detail", args=[token.public_id])


def rows(response) -> list[str]:
    section = response.text.split('id="token-activity"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", section.split("<tbody>", 1)[-1], re.S)


@pytest.mark.django_db
# --- Who may see it ------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client, token):
    response = client.get(detail_url(token))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_owner_sees_their_token(user_client, token):
    response = user_client.get(detail_url(token))
    assert response.status_code == HTTPStatus.OK
    assert "Production Website Integration" in response.text
    assert token.identifier in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["normal", "staff", "superuser"])
def test_anyone_else_gets_404_even_staff(client, token, kind):
    other = {
        "normal": lambda: UserFactory(),
        "staff": lambda: staff_user("apitokens.view_apitoken", "apitokens.view_tokenactivity"),
        "superuser": lambda: UserFactory(is_staff=True, is_superuser=True),
    }[kind]()
    client.force_login(other)
    assert client.get(detail_url(token)).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_unknown_id_is_404(user_client):
    url = reverse("apitokens:detail", args=["doesnotexist"])
    assert user_client.get(url).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_post_is_not_allowed(user_client, token):
    assert user_client.post(detail_url(token)).status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.django_db
# --- What it shows -----------------------------------------------------------------------------


def test_shows_created_last_used_with_ip_and_a_delete_link(user_client, token):
    from apitokens.models import APIToken

    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - timedelta(hours=3), last_used_ip="198.51.100.23"
    )
    response = user_client.get(detail_url(token))
    assert "Created Date" in response.text
    assert token.created_at.strftime("%Y") in response.text
    assert "3\xa0hours ago" in response.text
    assert "198.51.100.23" in response.text
    assert reverse("apitokens:delete", args=[token.public_id]) in response.text


@pytest.mark.django_db
def test_never_used_token_says_never_and_has_an_empty_chart(user_client, token):
    response = user_client.get(detail_url(token))
    assert "Never" in response.text
    assert "No requests in this period" in response.text
    assert "No requests yet" in response.text
    assert response.text.count('class="chart-bar"') == 30


@pytest.mark.django_db
def test_chart_has_one_bar_per_day_for_30_days(user_client, token):
    now = timezone.now()
    add_activity(token, count=6, at=now - timedelta(days=2))
    add_activity(token, count=3, at=now - timedelta(minutes=5))
    add_activity(token, count=4, at=now - timedelta(days=45))  # outside the chart
    response = user_client.get(detail_url(token))
    bars = re.findall(r'<rect class="chart-bar"[^>]*height="([\d.]+)"', response.text)
    assert len(bars) == 30
    assert sum(float(height) > 0 for height in bars) == 2
    assert "9 requests in the last 30 days" in response.text
    assert "<svg" in response.text
    assert 'role="img"' in response.text


def _cursor(response, name):
    match = re.search(rf"[?&;]{name}=([0-9_]+)", response.text)
    return match.group(1) if match else None


@pytest.mark.django_db
def test_activity_is_paged_by_keyset_newest_first(user_client, token):
    start = timezone.now() - timedelta(hours=2)
    add_activity(token, count=30, at=start, path="/api/v1/me/")
    first = user_client.get(detail_url(token))
    assert len(rows(first)) == 25
    assert "30 requests recorded" in first.text
    assert _cursor(first, "newer") is None
    second = user_client.get(detail_url(token), {"older": _cursor(first, "older")})
    assert len(rows(second)) == 5
    assert _cursor(second, "older") is None
    back = user_client.get(detail_url(token), {"newer": _cursor(second, "newer")})
    assert rows(back) == rows(first)


@pytest.mark.django_db
def test_keyset_pages_split_rows_of_one_instant_by_id(user_client, token):
    """Rows with the same time are ordered by id, so no row is skipped or shown twice."""
    at = timezone.now() - timedelta(hours=1)
    add_activity(token, count=30, at=at, step=timedelta(0), path="/api/v1/me/")
    first = user_client.get(detail_url(token))
    second = user_client.get(detail_url(token), {"older": _cursor(first, "older")})
    assert len(rows(first)) + len(rows(second)) == 30


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["0", "-1_2", "abc", "99999999999999999999999_1", "1e9", ""])
def test_bad_cursors_show_the_newest_page(user_client, token, cursor):
    add_activity(token, count=3, at=timezone.now() - timedelta(hours=1))
    for name in ("older", "newer"):
        response = user_client.get(detail_url(token), {name: cursor})
        assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["0", "-1", "abc", "999999", "1e9", ""])
def test_bad_page_numbers_are_not_errors(user_client, token, page):
    add_activity(token, count=3, at=timezone.now() - timedelta(hours=1))
    response = user_client.get(detail_url(token), {"page": page})
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status_class", "expected"),
    [("", 6), ("2xx", 3), ("4xx", 3), ("401", 2), ("429", 1), ("5xx", 0), ("bogus", 6)],
)
def test_activity_filters_by_status(user_client, token, status_class, expected):
    now = timezone.now() - timedelta(hours=1)
    add_activity(token, count=3, at=now, status=200)
    add_activity(token, count=2, at=now, status=401, flagged=True)
    add_activity(token, count=1, at=now, status=429)
    response = user_client.get(detail_url(token), {"status": status_class})
    assert response.status_code == HTTPStatus.OK
    assert len(rows(response)) == expected


@pytest.mark.django_db
def test_htmx_filter_returns_only_the_activity_partial(user_client, token):
    add_activity(token, count=2, at=timezone.now(), status=401)
    response = user_client.get(
        detail_url(token),
        {"status": "401"},
        headers={"HX-Request": "true", "HX-Target": "token-activity"},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.text.lstrip().startswith('<section id="token-activity"')
    assert "<html" not in response.text
    assert len(rows(response)) == 2


@pytest.mark.django_db
def test_ips_seen_first_in_the_last_7_days_are_highlighted(user_client, token):
    now = timezone.now()
    add_activity(token, at=now - timedelta(days=20), ip="198.51.100.10")
    add_activity(token, at=now - timedelta(hours=1), ip="198.51.100.10")
    add_activity(token, at=now - timedelta(days=2), ip="203.0.113.7")
    response = user_client.get(detail_url(token))
    assert "New IP addresses in the last 7 days" in response.text
    highlighted = [row for row in rows(response) if "is-new-ip" in row]
    assert len(highlighted) == 1
    assert "203.0.113.7" in highlighted[0]
    assert "New IP" in highlighted[0]
    new_ip_section = response.text.split("new-ips-heading", 1)[1].split("</section>", 1)[0]
    assert "198.51.100.10" not in new_ip_section


@pytest.mark.django_db
def test_security_log_lists_the_token_events_without_naming_staff(user, user_client, token):
    staff = staff_user(email="admin-person@quickbot.example")
    services.api_token_revoke(token=token, actor=staff, reason="staff")
    services.api_token_dead_use_record(
        token=token, client=services.ClientInfo(ip="203.0.113.7"), now=timezone.now()
    )
    response = user_client.get(detail_url(token))
    log = response.text.split('id="security-log-heading"', 1)[1]
    assert "Token created" in log
    assert "Token deleted" in log
    assert "QuickBot staff" in log
    assert "Deleted token used" in log
    assert "203.0.113.7" in log
    assert "admin-person@quickbot.example" not in response.text


@pytest.mark.django_db
def test_a_deleted_token_page_says_so_and_has_no_delete_button(user, user_client, token):
    services.api_token_revoke(token=token, actor=user)
    add_activity(token, at=timezone.now(), status=401, flagged=True)
    response = user_client.get(detail_url(token))
    assert response.status_code == HTTPStatus.OK
    assert "This token was deleted" in response.text
    assert reverse("apitokens:delete", args=[token.public_id]) not in response.text
    flagged = [row for row in rows(response) if "is-alert" in row]
    assert len(flagged) == 1
    assert "Made with the token after it stopped working" in flagged[0]


@pytest.mark.django_db
def test_user_input_is_escaped(user, user_client):
    token, _raw = create_token(user, "<script>alert(1)</script> integration")
    add_activity(token, at=timezone.now(), path="/api/<b>x</b>", ip=None)
    response = user_client.get(detail_url(token))
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert "<b>x</b>" not in response.text


@pytest.mark.django_db
def test_query_count_does_not_grow_with_rows(user_client, token, django_assert_max_num_queries):
    now = timezone.now()
    for day in range(30):
        add_activity(token, count=10, at=now - timedelta(days=day, hours=1), ip=f"10.0.0.{day}")
    for _ in range(5):
        services.api_token_dead_use_record(token=token, client=services.ClientInfo(), now=now)
    # session, user, token, rollup window, rows, total, new IPs, chart, security log
    with django_assert_max_num_queries(9):
        response = user_client.get(detail_url(token))
    assert response.status_code == HTTPStatus.OK
    assert len(rows(response)) == 25


# --- The alert banner on the API Tokens page ----------------------------------------------------


def _render_alerts(user) -> str:
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/account/tokens/")
    request.user = user
    return Template("{% load audit %}{% security_alerts %}").render(Context({"request": request}))


@pytest.mark.django_db
def test_token_page_is_never_cached(user_client, token):
    # Every other account page is no-store; this one (activity, IPs, user agents) had no
    # Cache-Control, so after logging out a shared browser could still show it.
    response = user_client.get(detail_url(token))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_deleted_token_page_counts_its_refused_uses_as_the_alert_does(user, user_client, token):
    now = timezone.now()
    services.api_token_revoke(token=token, actor=user, now=now - timedelta(days=3))
    # Seconds apart, so all four fall on today even just after midnight (minutes apart,
    # the test failed between 00:00 and 00:15 UTC).
    for seconds in (0, 1, 2, 3):
        services.api_token_dead_use_record(
            token=token,
            client=services.ClientInfo(ip="203.0.113.7"),
            now=now - timedelta(seconds=seconds),
        )
    response = user_client.get(detail_url(token))
    assert "Refused since: 4 attempts today" in response.text
    assert "was used 4 times" in _render_alerts(user)


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


def assert_not_cacheable(response):
    assert "no-store" in response["Cache-Control"]


def test_first_request_line_waits_and_polls_until_the_token_is_used(user_client, user):
    token, _ = create_token(user, "Live line")
    response = user_client.get(url("first_request", token), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Waiting for the first request" in content
    assert 'hx-trigger="every 2s"' in content
    assert_not_cacheable(response)


def test_first_request_line_names_the_address_and_stops_polling(user_client, user):
    token, _ = create_token(user, "Live line")
    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(), last_used_ip="192.0.2.44"
    )
    content = user_client.get(url("first_request", token)).content.decode()
    assert "First request received from <code>192.0.2.44</code>" in content
    assert "hx-trigger" not in content


def test_first_request_line_ignores_use_before_the_value_was_regenerated(user_client, user):
    token, _ = create_token(user, "Live line")
    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=5),
        last_used_ip="198.51.100.9",
        regenerated_at=timezone.now(),
    )
    content = user_client.get(url("first_request", token)).content.decode()
    assert "Waiting for the first request" in content
    assert "198.51.100.9" not in content


def test_first_request_line_of_another_users_token_is_404(user_client, other_user):
    token, _ = create_token(other_user, "Grace production server")
    assert user_client.get(url("first_request", token)).status_code == HTTPStatus.NOT_FOUND


def test_first_request_line_needs_a_login(client, user):
    token, _ = create_token(user, "Live line")
    response = client.get(url("first_request", token))
    assert response.status_code == HTTPStatus.FOUND
    assert "/account/login/" in response["Location"]


def messages_div(html: str) -> str:
    return re.search(r'<div id="messages"[^>]*>', html).group()


def test_refreshing_the_page_in_place_leaves_the_shown_message_alone(user_client, token):
    """The token page refreshes itself with htmx after a modal action; with no new message its
    #messages is not swapped out of band, so the action's message stays on screen."""
    url = reverse("apitokens:detail", args=[token.public_id])

    refresh = user_client.get(url, headers={"HX-Request": "true", "HX-Target": "token-page"})

    assert refresh.status_code == HTTPStatus.OK
    assert "hx-swap-oob" not in messages_div(refresh.text)


def test_a_message_still_reaches_the_page_out_of_band(user_client, token):
    url = reverse("apitokens:edit", args=[token.public_id])

    saved = user_client.post(
        url, {"name": "Renamed", "scopes": ["read"]}, headers={"HX-Request": "true"}
    )

    assert 'hx-swap-oob="true"' in messages_div(saved.text)
    assert "Token ‘Renamed’ updated." in saved.text
