"""Stale tokens (apitokens/stale.py): the rule, from the setting or the policy."""

from __future__ import annotations

import pytest

from apitokens import policy, selectors, services, stale
from apitokens.models import TokenPolicy
from tests.apitokens.stale_tokens import NOW, STALE


def save_policy(**values) -> TokenPolicy:
    current = TokenPolicy.current()
    for field, value in values.items():
        setattr(current, field, value)
    services.token_policy_save(policy=current, actor=None)
    return current


@pytest.mark.django_db
def test_stale_rule_reads_the_policy_else_the_setting(settings):
    settings.QUICKBOT_STALE_TOKEN_DAYS = 60
    assert stale.stale_after_days() == 60
    save_policy(stale_token_days=14)
    assert stale.stale_after_days() == 14
    save_policy(stale_token_days=0)
    assert stale.stale_after_days() == 0


@pytest.mark.django_db
def test_the_stale_rule_reads_the_policy_once_per_memo(django_assert_num_queries):
    save_policy(stale_token_days=14)
    policy.policy_forget()
    with django_assert_num_queries(1):
        for _ in range(5):
            stale.stale_after_days()


@pytest.fixture
def tokens(stale_rule_tokens):
    return stale_rule_tokens


@pytest.mark.django_db
def test_rule_default_is_60_days_or_never_used_after_7(settings, tokens):
    assert stale.stale_after_days() == 60
    assert {key for key, token in tokens.items() if stale.is_stale(token, NOW)} == STALE


@pytest.mark.django_db
def test_setting_changes_the_rule_and_zero_turns_it_off(settings, tokens):
    settings.QUICKBOT_STALE_TOKEN_DAYS = 30
    assert stale.is_stale(tokens["almost"], NOW)
    settings.QUICKBOT_STALE_TOKEN_DAYS = 0
    assert not any(stale.is_stale(token, NOW) for token in tokens.values())
    assert not selectors.stale_tokens(now=NOW).exists()


@pytest.mark.django_db
def test_deleted_tokens_are_never_stale(user, tokens):
    services.api_token_revoke(token=tokens["old_use"], actor=user)
    assert not stale.is_stale(tokens["old_use"], NOW)
    assert tokens["old_use"].pk not in set(
        selectors.stale_tokens(now=NOW).values_list("pk", flat=True)
    )
