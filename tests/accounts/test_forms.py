"""The account forms (accounts/forms.py): sign up, log in, profile, password change and reset, and
odd input that must never make a form fail with a server error."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    SetPasswordForm,
    SignupForm,
    password_help_text,
)
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


STRONG = "quiet-otter-lantern-42"


def signup_data(**overrides) -> dict:
    return {
        "email": "new@example.com",
        "display_name": "New Person",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


def error_codes(form, field: str) -> set[str]:
    return {error.code for error in form.errors.as_data().get(field, [])}


class TestSignupForm:
    def test_valid_data_creates_an_account_with_a_hashed_password(self):
        form = SignupForm(data=signup_data())

        assert form.is_valid(), form.errors
        user = form.save()
        assert user.email == "new@example.com"
        assert user.display_name == "New Person"
        assert user.check_password(STRONG)

    @pytest.mark.parametrize("email", ["ada@example.com", "ADA@example.com", "Ada@EXAMPLE.COM"])
    def test_a_taken_email_in_any_case_is_not_an_error_of_the_form(self, user, email):
        """The form never says an address has an account (the sign-up service emails
        the owner instead)."""
        form = SignupForm(data=signup_data(email=email))

        assert form.is_valid(), form.errors
        assert "email" not in form.errors

    def test_mismatching_passwords_are_refused(self):
        form = SignupForm(data=signup_data(password2=STRONG + "x"))

        assert not form.is_valid()
        assert error_codes(form, "password2") == {"password_mismatch"}

    @pytest.mark.parametrize(
        ("password", "code"),
        [
            ("short-1", "password_too_short"),
            ("password123", "password_too_common"),
            ("73918264501", "password_entirely_numeric"),
            ("new@example.com", "password_too_similar"),
        ],
    )
    def test_weak_passwords_are_refused_next_to_the_password_field(self, password, code):
        form = SignupForm(data=signup_data(password1=password, password2=password))

        assert not form.is_valid()
        assert code in error_codes(form, "password1")

    @pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com"])
    def test_bad_email_is_refused(self, email):
        form = SignupForm(data=signup_data(email=email))

        assert not form.is_valid()
        assert error_codes(form, "email") == {"invalid"}

    def test_over_long_email_is_refused(self):
        form = SignupForm(data=signup_data(email="a" * 250 + "@example.com"))

        assert not form.is_valid()
        assert "max_length" in error_codes(form, "email")

    def test_display_name_longer_than_80_characters_is_refused(self):
        form = SignupForm(data=signup_data(display_name="x" * 81))

        assert not form.is_valid()
        assert error_codes(form, "display_name") == {"max_length"}

    def test_display_name_is_optional_and_trimmed(self):
        assert SignupForm(data=signup_data(display_name="")).is_valid()
        form = SignupForm(data=signup_data(display_name="  Ada  "))
        assert form.is_valid()
        assert form.cleaned_data["display_name"] == "Ada"

    def test_required_fields_are_reported(self):
        form = SignupForm(data={})

        assert not form.is_valid()
        assert set(form.errors) == {"email", "password1", "password2"}


def test_password_help_text_names_the_configured_minimum_length(settings):
    assert "at least 10 characters" in password_help_text()
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 14},
        }
    ]
    from django.contrib.auth import password_validation

    password_validation.get_default_password_validators.cache_clear()
    try:
        assert "at least 14 characters" in password_help_text()
    finally:
        password_validation.get_default_password_validators.cache_clear()


class TestLoginForm:
    def test_correct_password_logs_in_with_the_email_in_any_case(self, user):
        form = LoginForm(data={"username": "ADA@Example.com", "password": DEFAULT_PASSWORD})

        assert form.is_valid(), form.errors
        assert form.get_user() == user

    def test_unknown_account_and_wrong_password_get_the_same_message(self, user):
        unknown = LoginForm(data={"username": "nobody@example.com", "password": DEFAULT_PASSWORD})
        wrong = LoginForm(data={"username": user.email, "password": "wrong-password-1"})

        assert not unknown.is_valid()
        assert not wrong.is_valid()
        assert unknown.non_field_errors() == wrong.non_field_errors()
        assert unknown.non_field_errors() == ["Incorrect email or password."]
        assert unknown.has_error("__all__", "invalid_login")

    def test_inactive_account_gets_the_same_message(self, user):
        user.is_active = False
        user.save()
        form = LoginForm(data={"username": user.email, "password": DEFAULT_PASSWORD})

        assert not form.is_valid()
        assert form.non_field_errors() == ["Incorrect email or password."]

    def test_bad_email_is_a_field_error(self):
        form = LoginForm(data={"username": "nope", "password": "x"})

        assert not form.is_valid()
        assert "username" in form.errors


class TestProfileForm:
    def test_changes_the_display_name(self, user):
        form = ProfileForm(data={"display_name": "  Countess  "}, instance=user)

        assert form.is_valid()
        form.save()
        user.refresh_from_db()
        assert user.display_name == "Countess"

    def test_display_name_longer_than_80_characters_is_refused(self, user):
        form = ProfileForm(data={"display_name": "y" * 81}, instance=user)

        assert not form.is_valid()
        assert error_codes(form, "display_name") == {"max_length"}

    def test_display_name_may_be_emptied(self, user):
        form = ProfileForm(data={"display_name": ""}, instance=user)

        assert form.is_valid()


class TestPasswordChangeForm:
    def test_changes_the_password(self, user):
        form = PasswordChangeForm(
            user,
            data={
                "old_password": DEFAULT_PASSWORD,
                "new_password1": STRONG,
                "new_password2": STRONG,
            },
        )

        assert form.is_valid(), form.errors
        form.save()
        assert user.check_password(STRONG)

    def test_wrong_current_password_is_refused(self, user):
        form = PasswordChangeForm(
            user, data={"old_password": "nope", "new_password1": STRONG, "new_password2": STRONG}
        )

        assert not form.is_valid()
        assert error_codes(form, "old_password") == {"password_incorrect"}

    def test_mismatching_new_passwords_are_refused(self, user):
        form = PasswordChangeForm(
            user,
            data={
                "old_password": DEFAULT_PASSWORD,
                "new_password1": STRONG,
                "new_password2": STRONG + "!",
            },
        )

        assert not form.is_valid()
        assert error_codes(form, "new_password2") == {"password_mismatch"}

    def test_weak_new_password_is_refused_next_to_the_new_password(self, user):
        form = PasswordChangeForm(
            user,
            data={"old_password": DEFAULT_PASSWORD, "new_password1": "abc", "new_password2": "abc"},
        )

        assert not form.is_valid()
        assert "password_too_short" in error_codes(form, "new_password1")


class TestSetPasswordForm:
    def test_weak_password_is_refused(self, user):
        form = SetPasswordForm(user, data={"new_password1": "12345", "new_password2": "12345"})

        assert not form.is_valid()
        assert "password_entirely_numeric" in error_codes(form, "new_password1")

    def test_sets_the_password(self, user):
        form = SetPasswordForm(user, data={"new_password1": STRONG, "new_password2": STRONG})

        assert form.is_valid()
        form.save()
        assert user.check_password(STRONG)


class TestPasswordResetForm:
    def test_bad_email_is_refused(self):
        assert not PasswordResetForm(data={"email": "nope"}).is_valid()

    def test_finds_the_account_in_any_case(self, user):
        form = PasswordResetForm(data={"email": "ADA@EXAMPLE.COM"})

        assert form.is_valid()
        assert list(form.get_users(form.cleaned_data["email"])) == [user]


# The display name is shown in the header and greets the owner in security emails: like a
# token name, it must not carry control characters or bidirectional overrides that make it
# display as something else ("Evil\u202etxt.exe").
SPOOFING_DISPLAY_NAMES = [
    "Evil\u202etxt.exe",
    "Isolate\u2066name\u2069",
    "bell\x07name",
    "two\nlines",
    "tab\tname",
]


@pytest.mark.parametrize("display_name", SPOOFING_DISPLAY_NAMES)
def test_profile_form_refuses_control_and_bidi_characters(user, display_name):
    form = ProfileForm(data={"display_name": display_name}, instance=user)

    assert not form.is_valid()
    assert error_codes(form, "display_name") == {"control_characters"}


@pytest.mark.parametrize("display_name", SPOOFING_DISPLAY_NAMES)
def test_signup_form_refuses_control_and_bidi_characters(display_name):
    form = SignupForm(data=signup_data(display_name=display_name))

    assert not form.is_valid()
    assert error_codes(form, "display_name") == {"control_characters"}


@pytest.mark.parametrize("display_name", ["Zoë Ørsted", "محمد", "李雷", "Ada 🚀"])
def test_display_names_in_any_script_are_accepted(user, display_name):
    assert ProfileForm(data={"display_name": display_name}, instance=user).is_valid()


@pytest.mark.parametrize(
    ("display_name", "code", "named"),
    [
        ("Ada\u200bLovelace", "control_characters", "U+200B ZERO WIDTH SPACE"),
        ("Ada Lovelace\u200f", "control_characters", "U+200F RIGHT-TO-LEFT MARK"),
        ("Аda Lovelace", "mixed_script", "U+0410 CYRILLIC CAPITAL LETTER A"),
    ],
)
def test_display_names_refuse_invisible_and_look_alike_characters_naming_them(
    user, display_name, code, named
):
    form = ProfileForm(data={"display_name": display_name}, instance=user)

    assert not form.is_valid()
    assert error_codes(form, "display_name") == {code}
    assert named in form.errors["display_name"][0]


def test_display_names_are_stored_in_nfkc(user):
    form = ProfileForm(data={"display_name": "Ａｄａ"}, instance=user)

    assert form.is_valid()
    assert form.cleaned_data["display_name"] == "Ada"


LOGIN_URL = reverse("accounts:login")


SIGNUP_URL = reverse("accounts:signup")


SETTINGS_URL = reverse("accounts:settings")


SECURITY_URL = reverse("accounts:security")


RESET_URL = reverse("accounts:password_reset")


WEIRD_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "x" * 10_000,
    "💥@example.com",
    "ada@exämple.com",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%s%s",
]


@pytest.mark.parametrize("value", WEIRD_VALUES)
def test_no_input_makes_a_form_fail_with_a_server_error(client, user, value):
    anonymous_posts = [
        (LOGIN_URL, {"username": value, "password": value, "next": value}),
        (
            SIGNUP_URL,
            {"email": value, "display_name": value, "password1": value, "password2": value},
        ),
        (RESET_URL, {"email": value}),
    ]
    for url, data in anonymous_posts:
        assert client.post(url, data).status_code < 500, url
    assert client.get(LOGIN_URL, {"next": value}).status_code < 500

    client.force_login(user)
    logged_in_posts = [
        (SETTINGS_URL, {"display_name": value}),
        (SECURITY_URL, {"old_password": value, "new_password1": value, "new_password2": value}),
    ]
    for url, data in logged_in_posts:
        assert client.post(url, data).status_code < 500, url


def test_list_values_in_form_fields_do_not_cause_a_server_error(client):
    response = client.post(LOGIN_URL, {"username": ["a@example.com", "b@example.com"]})

    assert response.status_code == HTTPStatus.OK
