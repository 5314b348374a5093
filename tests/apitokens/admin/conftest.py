"""Fixtures the test modules of this folder share."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apitokens import services, tokens
from apitokens.api import limits
from apitokens.models import APIToken
from tests.accounts.factories import UserFactory
from tests.apitokens.activity_factories import AUDIT_VIEW_PERMISSIONS, add_activity, staff_user
from tests.apitokens.factories import create_token


@pytest.fixture
def superuser():
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def sprayed(client, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    limits.reset()
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


# --- Activity changelist ----------------------------------------------------------------------


@pytest.fixture
def mixed_activity(user, other_user):
    now = timezone.now()
    first, _raw = create_token(user, "Production Website Integration")
    second, _raw = create_token(other_user, "Mobile App Backend")
    add_activity(first, count=3, at=now - timedelta(hours=2), ip="198.51.100.1")
    add_activity(first, count=2, at=now - timedelta(hours=1), status=401, flagged=True)
    add_activity(second, count=1, at=now - timedelta(minutes=30), status=429, ip="203.0.113.7")
    add_activity(second, count=1, at=now - timedelta(minutes=20), status=503, method="POST")
    add_activity(second, count=1, at=now - timedelta(minutes=10), path="/api/v1/activity/")
    return first, second


# --- Query counts: bounded, whatever the number of rows ---------------------------------------


@pytest.fixture
def many_rows():
    """40 tokens of 20 owners, 400 activity rows and their events: enough for N+1 to show."""
    now = timezone.now()
    owners = UserFactory.create_batch(20)
    tokens = []
    for index in range(40):
        token, _raw = create_token(owners[index % 20], f"Integration number {index}")
        tokens.append(token)
        add_activity(
            token, count=10, at=now - timedelta(hours=index % 30), status=200 + index % 2 * 201
        )
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip="198.51.100.1")
    for token in tokens[:10]:
        services.api_token_revoke(token=token, actor=token.owner)
    return tokens


# --- Tokens that break the policy -----------------------------------------------------------


@pytest.fixture
def mixed_tokens(user, other_user):
    now = timezone.now()
    forever, _ = create_token(user, "Forever job")
    long, _ = create_token(user, "Long job", expires_at=now + timedelta(days=200))
    short, _ = create_token(user, "Short job", expires_at=now + timedelta(days=5))
    open_, _ = create_token(
        other_user, "Open job", expires_at=now + timedelta(days=5), allowed_ips=""
    )
    fenced, _ = create_token(
        other_user, "Fenced job", expires_at=now + timedelta(days=5), allowed_ips="203.0.113.7"
    )
    gone, _ = create_token(user, "Gone job")
    services.api_token_revoke(token=gone, actor=user)
    return {
        "forever": forever,
        "long": long,
        "short": short,
        "open": open_,
        "fenced": fenced,
        "gone": gone,
    }


@pytest.fixture
def token(user):
    token, _raw = create_token(user, "Production Website Integration")
    return token
