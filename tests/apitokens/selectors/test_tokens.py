"""Tokens picked by a rule (apitokens/selectors/tokens.py): the stale ones."""

from __future__ import annotations

import pytest

from apitokens import selectors
from tests.apitokens.stale_tokens import NOW, STALE, make


@pytest.fixture
def tokens(stale_rule_tokens):
    return stale_rule_tokens


@pytest.mark.django_db
def test_selector_and_one_token_rule_agree(tokens, user, other_user):
    make(other_user, "Theirs", created_days_ago=30)
    found = set(selectors.stale_tokens(now=NOW, owner=user).values_list("pk", flat=True))
    assert found == {tokens[key].pk for key in STALE}
    assert selectors.stale_tokens(now=NOW).count() == 3
