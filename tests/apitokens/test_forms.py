"""The API Tokens forms (apitokens/forms.py): create, edit and regenerate; names unique as a reader
sees them; the IP allowlist field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from apitokens import services
from apitokens.forms import TokenCreateForm, TokenEditForm, TokenRegenerateForm
from apitokens.services import TokenNameTaken
from tests.apitokens.factories import create_token


@pytest.mark.usefixtures("_unbuffered_activity")
# --- Forms ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_form_normalises_the_allowlist(user):
    form = TokenCreateForm(
        {
            "name": "Office backup job",
            "expiry": "30",
            "scopes": ["read"],
            "allowed_ips": "203.0.113.7, 2001:DB8::/32",
        },
        user=user,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["allowed_ips"] == "203.0.113.7\n2001:db8::/32"


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_create_form_shows_each_bad_entry(user):
    form = TokenCreateForm(
        {
            "name": "Office backup job",
            "expiry": "30",
            "scopes": ["read"],
            "allowed_ips": "203.0.113.300\n10.1.1.1/8",
        },
        user=user,
    )
    assert not form.is_valid()
    errors = form.errors.as_data()["allowed_ips"]
    assert [error.code for error in errors] == ["invalid_ip", "invalid_ip"]
    text = " ".join(form.errors["allowed_ips"])
    assert "“203.0.113.300” is not an IPv4 or IPv6 address" in text
    assert "did you mean 10.0.0.0/8?" in text


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_forms_hint_at_the_current_address(user):
    form = TokenCreateForm(user=user, current_ip="198.51.100.23")
    assert "You are connecting from 198.51.100.23." in form.fields["allowed_ips"].help_text
    form = TokenEditForm(user=user, instance_pk=1, current_ip="2001:db8::5")
    assert "You are connecting from 2001:db8::5." in form.fields["allowed_ips"].help_text


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def create_form(user, now=NOW, **data):
    payload = {"name": "Production Website Integration", "expiry": "90", "scopes": ["read"]}
    payload.update(data)
    return TokenCreateForm(payload, user=user, now=now)


def test_valid_form_gives_expiry_and_scopes(user):
    form = create_form(user)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Production Website Integration"
    assert form.cleaned_data["scopes"] == ("read",)
    assert form.cleaned_data["expires_at"] == NOW + timedelta(days=90)
    assert form.cleaned_data["lifetime_days"] == 90


def test_defaults_are_90_days_and_read_only(user):
    form = TokenCreateForm(user=user, now=NOW)
    assert form["expiry"].value() == "90"
    assert form["scopes"].value() == ["read"]


def test_name_is_trimmed_and_inner_whitespace_collapsed(user):
    form = create_form(user, name="   Mobile   App\tBackend  ")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Mobile App Backend"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "required"),
        ("      ", "required"),
        ("ab", "min_length"),
        ("x" * 101, "max_length"),
        ("x" * 10_000, "max_length"),
        ("CI\x07deploy", "control_characters"),
        ("Deploy \u202eyppa", "control_characters"),
    ],
)
def test_invalid_names_are_refused(user, name, code):
    form = create_form(user, name=name)
    assert not form.is_valid()
    assert form.has_error("name", code)


@pytest.mark.parametrize(
    "name",
    [
        "Token 1",
        "token",
        "API Key",
        "key",
        "test",
        "Test 3",
        "new token",
        "New Token 2",
        "api token",
        "my api key",
        "TOKEN_7",
        "Key #12",
        "123",
        "🚀🚀🚀",
    ],
)
def test_meaningless_names_are_refused_with_a_suggestion(user, name):
    form = create_form(user, name=name)
    assert not form.is_valid()
    assert form.has_error("name", "meaningless")
    assert "where it will be used" in form.errors["name"][0]


@pytest.mark.parametrize(
    "name",
    [
        "Production Website Integration",
        "Development Testing",
        "Mobile App Backend",
        "Token rotation cron",
        "<script>alert('x')</script> deploy",
        'Ada\'s "quoted" laptop',
        "Déploiement 🚀 prod",
        "خادم الإنتاج",
        "GitHub Actions (CI)",
    ],
)
def test_descriptive_names_are_accepted(user, name):
    form = create_form(user, name=name)
    assert form.is_valid(), form.errors


def test_name_must_be_unique_among_active_tokens_ignoring_case(user):
    create_token(user, "Mobile App Backend")
    form = create_form(user, name="mobile app BACKEND")
    assert not form.is_valid()
    assert form.has_error("name", "name_taken")


def test_name_of_a_deleted_token_can_be_reused(user):
    from apitokens import services

    token, _ = create_token(user, "Mobile App Backend")
    services.api_token_revoke(token=token, actor=user)
    assert create_form(user, name="Mobile App Backend").is_valid()


def test_name_of_another_users_token_is_free(user, other_user):
    create_token(other_user, "Mobile App Backend")
    assert create_form(user, name="Mobile App Backend").is_valid()


def test_active_token_limit_is_enforced(user, settings):
    settings.QUICKBOT_MAX_TOKENS_PER_USER = 2
    create_token(user, "First integration")
    create_token(user, "Second integration")
    form = create_form(user)
    assert not form.is_valid()
    assert form.has_error("__all__", "too_many_tokens")
    assert "limit of 2 active tokens" in form.non_field_errors()[0]


@pytest.mark.parametrize(("choice", "days"), [("7", 7), ("30", 30), ("60", 60), ("90", 90)])
def test_preset_expiry_choices(user, choice, days):
    form = create_form(user, expiry=choice)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["expires_at"] == NOW + timedelta(days=days)
    assert form.cleaned_data["lifetime_days"] == days


def test_no_expiration(user):
    form = create_form(user, expiry="none")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["expires_at"] is None
    assert form.cleaned_data["lifetime_days"] is None


def test_custom_date_expires_at_end_of_that_day(user):
    form = create_form(user, expiry="custom", custom_expiry_date="2026-04-01")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["expires_at"] == datetime(2026, 4, 1, 23, 59, 59, tzinfo=UTC)
    assert form.cleaned_data["lifetime_days"] is None


@pytest.mark.parametrize(
    "custom_date",
    ["2026-03-09", "2026-03-10", "2027-03-11", "", "not-a-date", "2026-02-30"],
    ids=["past", "today", "beyond-one-year", "missing", "garbage", "impossible"],
)
def test_bad_custom_dates_are_refused(user, custom_date):
    form = create_form(user, expiry="custom", custom_expiry_date=custom_date)
    assert not form.is_valid()
    assert "custom_expiry_date" in form.errors


def test_custom_date_exactly_one_year_ahead_is_allowed(user):
    form = create_form(user, expiry="custom", custom_expiry_date="2027-03-10")
    assert form.is_valid(), form.errors


def test_custom_date_is_ignored_for_preset_choices(user):
    form = create_form(user, expiry="30", custom_expiry_date="1999-01-01")
    assert form.is_valid(), form.errors


def test_missing_expiry_choice_is_refused(user):
    form = create_form(user, expiry="")
    assert not form.is_valid()
    assert form.errors["expiry"] == ["Choose when the token expires."]


def test_unknown_expiry_choice_is_refused(user):
    form = create_form(user, expiry="3650")
    assert not form.is_valid()
    assert form.has_error("expiry", "invalid_choice")


def test_site_maximum_removes_no_expiration_and_caps_choices(user, settings):
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    form = TokenCreateForm(user=user, now=NOW)
    values = [value for value, _ in form.fields["expiry"].choices]
    assert values == ["7", "30", "custom"]
    assert form["expiry"].value() == "30"
    assert not form.allows_no_expiration
    assert form.latest_custom_date == date(2026, 4, 9)

    for data in (
        {"expiry": "none"},
        {"expiry": "90"},
        {"expiry": "custom", "custom_expiry_date": "2026-04-10"},
    ):
        assert not create_form(user, **data).is_valid(), data
    assert create_form(user, expiry="custom", custom_expiry_date="2026-04-09").is_valid()


def test_custom_date_input_carries_min_and_max(user):
    form = TokenCreateForm(user=user, now=NOW)
    attrs = form.fields["custom_expiry_date"].widget.attrs
    assert attrs["min"] == "2026-03-11"
    assert attrs["max"] == "2027-03-10"


def test_scopes_read_and_write_in_canonical_order(user):
    form = create_form(user, scopes=["write", "read"])
    assert form.is_valid(), form.errors
    assert form.cleaned_data["scopes"] == ("read", "write")


def test_at_least_one_scope_is_required(user):
    form = create_form(user, scopes=[])
    assert not form.is_valid()
    assert form.errors["scopes"] == ["Choose at least one permission."]


def test_unknown_scope_posted_by_hand_is_refused(user):
    form = create_form(user, scopes=["read", "admin"])
    assert not form.is_valid()
    assert form.has_error("scopes", "invalid_choice")


def test_edit_form_allows_keeping_the_same_name(user):
    token, _ = create_token(user, "Mobile App Backend")
    form = TokenEditForm(
        {"name": "mobile app backend", "scopes": ["read", "write"]},
        user=user,
        instance_pk=token.pk,
    )
    assert form.is_valid(), form.errors


def test_edit_form_refuses_the_name_of_another_token(user):
    token, _ = create_token(user, "Mobile App Backend")
    create_token(user, "Production Website Integration")
    form = TokenEditForm(
        {"name": "Production website integration", "scopes": ["read"]},
        user=user,
        instance_pk=token.pk,
    )
    assert not form.is_valid()
    assert form.has_error("name", "name_taken")


@pytest.mark.parametrize(
    ("choice", "overlap"),
    [
        ("0", timedelta(0)),
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
    ],
)
def test_regenerate_form_turns_choice_into_overlap(choice, overlap):
    form = TokenRegenerateForm({"overlap": choice})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["overlap"] == overlap


@pytest.mark.parametrize("choice", ["", "2h", "forever"])
def test_regenerate_form_refuses_other_overlaps(choice):
    form = TokenRegenerateForm({"overlap": choice})
    assert not form.is_valid()
    assert "overlap" in form.errors


@pytest.mark.parametrize("custom_date", ["garbage", "2026-02-30", "31/12/2026"])
def test_an_unreadable_custom_date_gets_one_error_not_two(user, custom_date):
    # It also got "Enter the date the token should expire." as if the field were empty.
    form = create_form(user, expiry="custom", custom_expiry_date=custom_date)

    assert not form.is_valid()
    assert form.errors["custom_expiry_date"] == ["Enter the date as YYYY-MM-DD."]


EXISTING = "Alice Production Website"


# Every letter Cyrillic, each a look-alike of the Latin one: one script, so only the
# skeleton tells it from "Copy Aces".
CYRILLIC_COPY = "\u0421\u043e\u0440\u0443 \u0410\u0441\u0435\u0455"


def create_data(name: str) -> dict:
    return {"name": name, "expiry": "30", "scopes": ["read"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Alice Production\u200b Website", "control_characters"),
        ("Alice Production Website\u200f", "control_characters"),
        # Default-ignorable fillers: drawn as nothing, so a twin of the existing name.
        ("Alice Production Website\u3164", "control_characters"),
        ("Alice Production Website\uffa0", "control_characters"),
        ("Alice\u115f Production Website", "control_characters"),
        ("Alice Production\u034f Website", "control_characters"),
        ("Alice Production Website\ufe0f", "control_characters"),
        ("Alice Рroduction Website", "mixed_script"),
        ("Alice Ρroduction Website", "mixed_script"),
        (CYRILLIC_COPY, "name_taken"),
        ("ALICE PRODUCTION WEBSITE", "name_taken"),
        ("Ａｌｉｃｅ Ｐｒｏｄｕｃｔｉｏｎ Ｗｅｂｓｉｔｅ", "name_taken"),
    ],
)
def test_a_look_alike_of_an_existing_name_is_refused(user, existing, name, code):
    form = TokenCreateForm(data=create_data(name), user=user)

    assert not form.is_valid()
    assert {error.code for error in form.errors.as_data()["name"]} == {code}


@pytest.mark.django_db
def test_the_error_names_the_token_it_looks_like(user, existing):
    form = TokenCreateForm(data=create_data(CYRILLIC_COPY), user=user)

    form.is_valid()

    assert "looks the same as your token “Copy Aces”" in form.errors["name"][0]


@pytest.mark.django_db
def test_the_stored_name_is_nfkc(user):
    form = TokenCreateForm(data=create_data("Ｍｏｂｉｌｅ Backend"), user=user)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Mobile Backend"


@pytest.mark.django_db
def test_editing_a_token_keeps_its_own_name(user, existing):
    form = TokenEditForm(
        data={"name": EXISTING, "scopes": ["read"]}, user=user, instance_pk=existing.pk
    )

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_another_owner_may_use_a_look_alike(other_user, existing):
    assert TokenCreateForm(data=create_data(CYRILLIC_COPY), user=other_user).is_valid()


@pytest.mark.django_db
def test_a_deleted_token_frees_its_look_alikes(user, existing):
    services.api_token_revoke(token=user.api_tokens.get(name="Copy Aces"), actor=user)

    assert TokenCreateForm(data=create_data(CYRILLIC_COPY), user=user).is_valid()


@pytest.mark.django_db
def test_a_name_stored_with_a_filler_still_blocks_its_plain_twin(user):
    """A name saved before fillers were refused keeps its plain look-alike out."""
    services.api_token_create(user=user, name="Production deploy\u3164")

    form = TokenCreateForm(data=create_data("Production deploy"), user=user)

    assert not form.is_valid()
    assert {error.code for error in form.errors.as_data()["name"]} == {"name_taken"}
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name="Production deploy")
