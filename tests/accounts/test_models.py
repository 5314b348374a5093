from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_custom_user_model_logs_in_with_email():
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert User.REQUIRED_FIELDS == []


def test_create_user_normalizes_the_email_domain_and_hashes_the_password():
    user = User.objects.create_user(" ada@EXAMPLE.com ", "s3cret-password-x")

    assert user.email == "ada@example.com"
    assert user.password != "s3cret-password-x"
    assert user.check_password("s3cret-password-x")
    assert not user.is_staff
    assert not user.is_superuser


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "whatever-password")


def test_create_superuser_sets_staff_and_superuser():
    user = User.objects.create_superuser("root@example.com", "s3cret-password-x")

    assert user.is_staff
    assert user.is_superuser


def test_email_is_unique_regardless_of_case():
    UserFactory(email="ada@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ADA@example.com", "another-password")


def test_natural_key_lookup_ignores_case():
    user = UserFactory(email="ada@example.com")

    assert User.objects.get_by_natural_key("Ada@Example.COM") == user


def test_authenticate_accepts_the_email_in_any_case():
    user = UserFactory(email="ada@example.com")

    assert authenticate(username="ADA@EXAMPLE.COM", password=DEFAULT_PASSWORD) == user


def test_names_fall_back_to_the_email():
    user = UserFactory.build(email="ada@example.com", display_name="")

    assert user.get_full_name() == "ada@example.com"
    assert user.get_short_name() == "ada"
    assert str(user) == "ada@example.com"


def test_names_use_the_display_name_when_set():
    user = UserFactory.build(email="ada@example.com", display_name="Ada Lovelace")

    assert user.get_full_name() == "Ada Lovelace"
    assert user.get_short_name() == "Ada Lovelace"


def test_api_hourly_limit_defaults_to_the_site_setting():
    assert UserFactory().api_hourly_limit is None
