"""The token-name hints never suggest a name the account already uses (issue #22): the
demo account has "Mobile App Backend", which the hint used to suggest."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from accounts import sudo
from apitokens import demo
from apitokens.forms import NAME_EXAMPLES, TokenCreateForm, TokenEditForm
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

QUOTED = re.compile(r"“([^”]+)”")
NOT_EXAMPLES = {"Token 1", "API Key"}


def suggested(text: str) -> set[str]:
    return set(QUOTED.findall(str(text))) - NOT_EXAMPLES


@pytest.fixture
def demo_owner():
    owner = UserFactory(email="demo-like@example.com")
    demo.demo_data_seed(user=owner)
    return owner


def test_a_fresh_account_sees_the_help_articles_examples():
    form = TokenCreateForm(user=UserFactory())

    assert suggested(form.fields["name"].help_text) == set(NAME_EXAMPLES[:3])


def test_the_bad_name_error_suggests_a_name_the_demo_account_does_not_use(demo_owner):
    taken = set(demo_owner.api_tokens.active().values_list("name", flat=True))
    form = TokenCreateForm(data={"name": "Token 1", "expiry": "30"}, user=demo_owner)

    assert not form.is_valid()
    [error] = form.errors["name"]
    assert "does not say what the token is for" in error
    hinted = suggested(error) - {"Token 1"}
    assert hinted and not hinted & taken
    assert "Mobile App Backend" not in error


def test_the_help_text_skips_names_the_account_uses_in_any_case(demo_owner):
    create_token(demo_owner, "nightly backup job")
    taken = {
        name.casefold() for name in demo_owner.api_tokens.active().values_list("name", flat=True)
    }
    for form in (
        TokenCreateForm(user=demo_owner),
        TokenEditForm(user=demo_owner, instance_pk=demo_owner.api_tokens.first().pk),
    ):
        hinted = suggested(form.fields["name"].help_text)
        assert len(hinted) == 3
        assert not {name.casefold() for name in hinted} & taken


def test_the_create_page_shows_the_hint_without_the_accounts_names(client, demo_owner):
    client.force_login(demo_owner)
    session = client.session
    session[sudo.SESSION_KEY] = time.time()
    session.save()

    content = client.get(reverse("apitokens:new")).content.decode()

    assert "Say where the token will be used" in content
    assert "“Mobile App Backend”" not in content


def test_when_every_example_is_taken_the_error_still_reads_well():
    owner = UserFactory()
    for name in NAME_EXAMPLES:
        create_token(owner, name)
    form = TokenCreateForm(data={"name": "API Key", "expiry": "30"}, user=owner)

    assert not form.is_valid()
    assert form.errors["name"] == [
        "“API Key” does not say what the token is for. Describe where it will be used, for "
        "example the name of the app or server that will use it."
    ]
    assert suggested(form.fields["name"].help_text) == set()
