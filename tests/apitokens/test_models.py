"""The token lookup (`APIToken.objects.authenticate*`): raw SQL on the API's hot path,
whose rows must come out exactly as the ORM would load them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apitokens import tokens
from apitokens.models import APIToken
from tests.apitokens.factories import create_token


def _field_values(instance):
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


@pytest.mark.django_db
@pytest.mark.parametrize("observed", [False, True], ids=["fast-path", "logged-queries"])
def test_lookup_loads_token_and_owner_as_the_orm_does(user, observed):
    # Every kind of column set: datetimes (some NULL), booleans, integers, an IP, text.
    token, raw = create_token(
        user, scopes=("read", "write"), expires_at=timezone.now() + timedelta(days=30)
    )
    APIToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now(), last_used_ip="2001:db8::1", reminders_sent=1
    )
    user.api_hourly_limit = 250
    user.last_login = timezone.now()
    user.save()
    if observed:  # the query-logging path goes through Django's cursor wrapper
        with CaptureQueriesContext(connection):
            result = APIToken.objects.authenticate_digest(tokens.token_digest(raw))
    else:
        result = APIToken.objects.authenticate_digest(tokens.token_digest(raw))
    assert result.ok
    expected_token = APIToken.objects.get(pk=token.pk)
    assert _field_values(result.token) == _field_values(expected_token)
    assert _field_values(result.token.owner) == _field_values(type(user).objects.get(pk=user.pk))
    for value in _field_values(result.token).values():
        if hasattr(value, "tzinfo"):
            assert value.tzinfo is not None  # aware, as USE_TZ wants
    assert result.token.owner.is_active is True
    assert result.token._state.adding is False
    assert result.token._state.db == "default"


@pytest.mark.django_db
def test_lookup_of_unknown_digest_finds_nothing(user):
    create_token(user)
    result = APIToken.objects.authenticate_digest(tokens.token_digest(tokens.generate_token()))
    assert result.token is None
    assert result.reason == "unknown"
