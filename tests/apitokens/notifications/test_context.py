"""What every email to a token's owner shows alike (apitokens/notifications/context.py): the
greeting, by name only once the address is confirmed (issue #20, L5)."""

from __future__ import annotations

import pytest
from django.core import mail

from apitokens import services
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

# --- Greetings --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_emails_greet_by_name_only_once_the_address_is_confirmed(
    django_capture_on_commit_callbacks,
):
    confirmed = UserFactory(display_name="Ada Lovelace")
    squatted = UserFactory(display_name="Mallory", email_verified_at=None)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        for owner in (confirmed, squatted):
            token, _ = create_token(owner, "CI runner")
            services.api_token_revoke(token=token, actor=owner)
    greetings = {message.to[0]: message.body.splitlines()[0] for message in mail.outbox}
    assert greetings == {confirmed.email: "Hello Ada Lovelace,", squatted.email: "Hello,"}
    for message in mail.outbox:
        if message.to == [squatted.email]:
            assert "Mallory" not in message.alternatives[0].content


@pytest.mark.django_db(transaction=True)
def test_the_owner_is_not_greeted_with_a_squatters_display_name(client):
    # Someone signed up first with the owner's address and chose the display name.
    UserFactory(
        email="owner@example.com",
        display_name="Support: visit https://evil.example/reset",
        email_verified_at=None,
    )
    mail.outbox = []
    password = "quiet-otter-lantern-42"
    client.post(
        "/account/signup/",
        {"email": "owner@example.com", "password1": password, "password2": password},
    )
    client.post("/account/password-reset/", {"email": "owner@example.com"})
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.to == ["owner@example.com"]
        assert message.body.startswith("Hello,\n")
        assert "evil" not in message.body and "Support" not in message.body
