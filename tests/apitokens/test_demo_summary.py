"""seed_demo's count agrees with the API Tokens page: the deleted sample is named (issue #22)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from apitokens import demo
from apitokens.management.commands import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_checkout(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(seed_demo, "database_vendor", lambda: "sqlite")


def test_seed_demo_says_how_many_tokens_the_list_shows_and_names_the_deleted_one(client):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    user = User.objects.get(email=seed_demo.DEMO_EMAIL)
    client.force_login(user)
    listed = client.get(reverse("apitokens:list")).context["rows"]

    added = next(line for line in out.getvalue().splitlines() if line.startswith("Added"))
    assert added == (
        f"Added 4 sample API tokens with a month of activity: {len(listed)} on the API Tokens "
        f"page and 1 deleted ({demo.DELETED_TOKEN_NAME}), which someone still uses."
    )
    assert len(listed) == 3
