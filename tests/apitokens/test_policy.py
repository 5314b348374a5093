"""The token policy in force (apitokens/policy.py): the saved row over the environment, and what it
asks of the forms, regenerations and allowlists."""

from __future__ import annotations

import pytest

from apitokens import expiry, policy, services
from apitokens.forms import TokenCreateForm
from apitokens.models import APIToken, TokenPolicy
from tests.apitokens.factories import create_token

# --- Forms and the token policy ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "code"),
    [("0.0.0.0/1\n128.0.0.0/1", "allows_every_address"), ("2000::/3", "too_wide")],
)
def test_a_policy_that_requires_an_allowlist_is_not_satisfied_by_one_that_allows_everyone(
    user, typed, code
):
    current = TokenPolicy.current()
    current.allowlist_required = True
    services.token_policy_save(policy=current, actor=None)
    data = {"name": "Warehouse sync job", "expiry": "90", "scopes": ["read"]}

    form = TokenCreateForm(data={**data, "allowed_ips": typed}, user=user)

    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["allowed_ips"]] == [code]
    assert TokenCreateForm(data={**data, "allowed_ips": "203.0.113.0/24"}, user=user).is_valid()


@pytest.mark.django_db
def test_tokens_saved_with_a_list_that_restricts_nothing_break_a_policy_requiring_one(user):
    open_by_halves, _ = create_token(user, "Halves job", allowed_ips="0.0.0.0/1\n128.0.0.0/1")
    open_by_mapping, _ = create_token(user, "Mapped job", allowed_ips="0.0.0.0/0")
    restricted, _ = create_token(user, "Office job", allowed_ips="203.0.113.0/24")
    single, _ = create_token(user, "Single job", allowed_ips="203.0.113.7")
    required = TokenPolicy(allowlist_required=True)
    now = open_by_halves.created_at

    breaking = APIToken.objects.filter(policy.breach_condition(required, now))

    assert set(breaking) == {open_by_halves, open_by_mapping}
    assert policy.breach_reasons(open_by_halves, required, now) == [
        "has an IP allowlist that restricts nothing"
    ]
    assert policy.breach_reasons(restricted, required, now) == []
    assert policy.breach_reasons(single, required, now) == []
    assert not APIToken.objects.filter(policy.breach_condition(TokenPolicy(), now)).exists()


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


def create_data(**overrides):
    data = {"name": "Warehouse sync job", "expiry": "90", "scopes": ["read"], "allowed_ips": ""}
    data.update(overrides)
    return data


@pytest.mark.django_db
# --- The singleton and its defaults -------------------------------------------------------


def test_without_a_row_the_environment_defaults_apply(settings):
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    settings.QUICKBOT_STALE_TOKEN_DAYS = 45
    current = TokenPolicy.current()
    assert (current.max_lifetime_days, current.expiry_required) == (30, True)
    assert (current.allowlist_required, current.stale_token_days) == (False, 45)
    assert not TokenPolicy.objects.exists()


@pytest.mark.django_db
def test_the_saved_row_wins_over_the_environment(settings):
    settings.QUICKBOT_TOKEN_MAX_LIFETIME_DAYS = 30
    save_policy(max_lifetime_days=7, allowlist_required=True)
    current = TokenPolicy.current()
    assert (current.max_lifetime_days, current.allowlist_required) == (7, True)
    assert TokenPolicy.objects.get().pk == 1


@pytest.mark.django_db
def test_current_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no table yet")

    monkeypatch.setattr(TokenPolicy.objects, "filter", broken)
    assert TokenPolicy.current().max_lifetime_days == 0


@pytest.mark.django_db
# --- The create form, regenerations --------------------------------------------------------


def test_create_form_offers_only_what_the_policy_allows_and_says_why(user):
    save_policy(max_lifetime_days=30)
    form = TokenCreateForm(user=user)
    values = [value for value, _ in form.fields["expiry"].choices]
    assert values == ["7", "30", "custom"]
    assert "tokens expire within 30 days" in " ".join(form.policy_notes)
    assert not form.allows_no_expiration
    refused = TokenCreateForm(create_data(expiry="90"), user=user)
    assert not refused.is_valid()


@pytest.mark.django_db
def test_expiry_required_without_a_maximum_removes_no_expiration(user):
    save_policy(expiry_required=True)
    form = TokenCreateForm(user=user)
    values = [value for value, _ in form.fields["expiry"].choices]
    assert expiry.EXPIRY_NONE not in values and "90" in values
    assert "every token must expire" in " ".join(form.policy_notes)
    refused = TokenCreateForm(create_data(expiry="none"), user=user)
    assert not refused.is_valid()
    assert "offered expiry options" in refused.errors["expiry"][0]


@pytest.mark.django_db
def test_allowlist_required_for_new_tokens(user):
    save_policy(allowlist_required=True)
    refused = TokenCreateForm(create_data(), user=user)
    assert not refused.is_valid()
    assert refused.errors.as_data()["allowed_ips"][0].code == "required"
    assert "requires an IP allowlist" in refused.errors["allowed_ips"][0]
    assert TokenCreateForm(create_data(allowed_ips="203.0.113.7"), user=user).is_valid()


@pytest.mark.django_db
def test_without_a_policy_the_form_is_unchanged(user):
    form = TokenCreateForm(user=user)
    assert form.policy_notes == []
    assert expiry.EXPIRY_NONE in [value for value, _ in form.fields["expiry"].choices]


@pytest.mark.django_db
def test_a_report_only_allowlist_breaks_a_policy_requiring_one(user):
    report_only, _ = create_token(
        user, "Report job", allowed_ips="203.0.113.0/24", allowlist_report_only=True
    )
    enforced, _ = create_token(user, "Office job", allowed_ips="203.0.113.0/24")
    required = TokenPolicy(allowlist_required=True)
    now = enforced.created_at

    breaking = APIToken.objects.filter(policy.breach_condition(required, now))

    # Treated as a token without an allowlist: listed as breaking, with the reason.
    assert set(breaking) == {report_only}
    assert policy.breach_reasons(report_only, required, now) == [
        "has an IP allowlist in report-only mode (it refuses nothing)"
    ]
    assert policy.breach_reasons(enforced, required, now) == []
    assert not APIToken.objects.filter(policy.breach_condition(TokenPolicy(), now)).exists()
    # Enforcing it meets the policy.
    services.api_token_allowlist_enforce(token=report_only, actor=user)
    assert not APIToken.objects.filter(policy.breach_condition(required, now)).exists()
