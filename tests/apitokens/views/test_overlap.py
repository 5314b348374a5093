"""A regenerate's overlap on the token's page: who still sends the old value, "End overlap
now", and the Regenerate form's "Until its traffic stops"."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sudo
from apitokens import expiry, services
from apitokens.api.lookup import authenticate_token
from apitokens.models import SecurityEvent
from tests.apitokens.activity_factories import add_activity
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def url(name, token):
    return reverse(f"apitokens:{name}", args=[token.public_id])


def regenerated(user, **kwargs):
    token, old_raw = create_token(user, "Nightly billing export")
    kwargs.setdefault("overlap", timedelta(hours=24))
    token, new_raw = services.api_token_regenerate(token=token, actor=user, **kwargs)
    return token, old_raw, new_raw


def test_page_lists_each_caller_still_sending_the_old_value(user_client, user):
    now = timezone.now()
    token, _old, _new = regenerated(user, now=now - timedelta(hours=1))
    add_activity(token, count=3, at=now - timedelta(minutes=30), used_previous_value=True)
    add_activity(
        token,
        at=now - timedelta(minutes=2),
        ip="2001:db8::7",
        user_agent=FIREFOX,
        used_previous_value=True,
    )
    add_activity(token, count=4, at=now - timedelta(minutes=10), ip="192.0.2.99")  # new value
    content = user_client.get(url("detail", token)).content.decode()
    assert "The old value is still in use" in content
    section = content[content.index('id="old-value"') : content.index("usage-chart-heading")]
    assert "198.51.100.10" in section and "curl" in section
    assert "2001:db8::7" in section and "Firefox on Linux" in section
    assert "192.0.2.99" not in section
    assert "4 requests sent it since you regenerated" in section
    assert "End overlap now" in section


def test_page_says_when_nobody_used_the_old_value(user_client, user):
    token, _old, _new = regenerated(user)
    content = user_client.get(url("detail", token)).content.decode()
    assert "Nobody has used the old value" in content
    assert "No request has sent it since you regenerated" in content


def test_quiet_overlap_page_says_how_it_ends(user_client, user):
    token, _old, _new = regenerated(user, overlap=expiry.QUIET_OVERLAP_MAX, until_quiet=True)
    content = user_client.get(url("detail", token)).content.decode()
    assert "works until 24 hours pass without a request using it" in content
    listing = user_client.get(reverse("apitokens:list")).content.decode()
    assert "Old value works until 24 h unused" in listing


@pytest.mark.parametrize("overlap", [timedelta(0), None])
def test_no_old_value_section_without_a_running_overlap(user_client, user, overlap):
    if overlap is None:
        token, _ = create_token(user, "Nightly billing export")
    else:
        token, _old, _new = regenerated(user, overlap=overlap)
    content = user_client.get(url("detail", token)).content.decode()
    assert 'id="old-value"' not in content and "End overlap now" not in content


def test_end_overlap_stops_the_old_value_at_once(
    user_client, user, django_capture_on_commit_callbacks
):
    token, old_raw, new_raw = regenerated(user)
    assert authenticate_token(old_raw).ok
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            url("end_overlap", token), {"previous": token.previous_identifier}, follow=True
        )
    assert response.redirect_chain[-1][0] == url("detail", token)
    content = response.content.decode()
    assert "stopped working: only the new one works" in content
    assert 'id="old-value"' not in content
    old = authenticate_token(old_raw)
    assert not old.ok and old.reason == "expired" and old.used_previous_value
    assert authenticate_token(new_raw).ok
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.OVERLAP_ENDED)
    assert event.token_id == token.pk and event.actor_id == user.pk
    assert token.previous_identifier in event.detail
    assert len(mail.outbox) == 1
    assert "old value of API token" in mail.outbox[0].subject
    assert old_raw not in mail.outbox[0].body and new_raw not in mail.outbox[0].body


def test_end_overlap_twice_changes_nothing_the_second_time(user_client, user):
    token, _old, _new = regenerated(user)
    data = {"previous": token.previous_identifier}
    user_client.post(url("end_overlap", token), data)
    response = user_client.post(url("end_overlap", token), data, follow=True)
    assert "was no longer working" in response.content.decode()
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.OVERLAP_ENDED).count() == 1


def test_end_overlap_after_a_regenerate_in_another_tab_ends_nothing(user_client, user):
    token, _old, _new = regenerated(user)
    seen = token.previous_identifier
    token, second_raw = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=1)
    )
    _token, third_raw = services.api_token_regenerate(
        token=token, actor=user, overlap=timedelta(hours=1)
    )
    user_client.post(url("end_overlap", token), {"previous": seen})
    assert authenticate_token(second_raw).ok  # the overlap the owner never saw goes on
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.OVERLAP_ENDED).exists()


def test_end_overlap_of_another_users_token_is_404(client, user, other_user):
    token, old_raw, _new = regenerated(user)
    client.force_login(other_user)
    response = client.post(url("end_overlap", token), {"previous": token.previous_identifier})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert authenticate_token(old_raw).ok


@pytest.mark.parametrize("previous", ["", "\x00", "<script>", "x" * 10_000, "qb_ΑΒΓ", None])
def test_end_overlap_with_hostile_input_never_fails(user_client, user, previous):
    token, old_raw, _new = regenerated(user)
    data = {} if previous is None else {"previous": previous}
    response = user_client.post(url("end_overlap", token), data)
    assert response.status_code == HTTPStatus.FOUND
    assert authenticate_token(old_raw).ok


def test_end_overlap_of_a_deleted_token_changes_nothing(user_client, user):
    token, _old, _new = regenerated(user)
    services.api_token_revoke(token=token, actor=user)
    response = user_client.post(url("end_overlap", token), {"previous": token.previous_identifier})
    assert response.status_code == HTTPStatus.FOUND
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.OVERLAP_ENDED).exists()


def test_end_overlap_is_post_only(user_client, user):
    token, old_raw, _new = regenerated(user)
    assert user_client.get(url("end_overlap", token)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert authenticate_token(old_raw).ok


def test_end_overlap_without_csrf_token_is_forbidden(user):
    token, old_raw, _new = regenerated(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(url("end_overlap", token), {"previous": token.previous_identifier})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert authenticate_token(old_raw).ok


def test_end_overlap_needs_sudo(user_client, user):
    token, old_raw, _new = regenerated(user)
    session = user_client.session
    session[sudo.SESSION_KEY] = 1_000_000.0
    session.save()
    response = user_client.post(url("end_overlap", token), {"previous": token.previous_identifier})
    assert 'name="sudo_password"' in response.content.decode()
    assert authenticate_token(old_raw).ok


def test_end_overlap_signed_out_goes_to_login(client, user):
    token, old_raw, _new = regenerated(user)
    response = client.post(url("end_overlap", token), {"previous": token.previous_identifier})
    assert response.status_code == HTTPStatus.FOUND and "/login" in response.url
    assert authenticate_token(old_raw).ok


def test_regenerate_form_offers_until_its_traffic_stops(user_client, user):
    token, old_raw = create_token(user, "Nightly billing export")
    content = user_client.get(url("regenerate", token)).content.decode()
    assert "Until its traffic stops" in content
    response = user_client.post(url("regenerate", token), {"overlap": "quiet"})
    assert response.status_code == HTTPStatus.OK
    assert "keeps working until 24 hours pass without a request using it" in (
        response.content.decode()
    )
    token.refresh_from_db()
    assert token.overlap_until_quiet
    assert token.previous_hard_end == token.regenerated_at + timedelta(days=7)
    assert authenticate_token(old_raw).ok
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.REGENERATED)
    assert "24 hours pass without a request" in event.detail
