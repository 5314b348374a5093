"""Token names are unique as a reader sees them (apitokens/forms.py, services.py)."""

from __future__ import annotations

import pytest

from apitokens import services
from apitokens.forms import TokenCreateForm, TokenEditForm
from apitokens.services import TokenNameTaken

pytestmark = pytest.mark.django_db

EXISTING = "Alice Production Website"
# Every letter Cyrillic, each a look-alike of the Latin one: one script, so only the
# skeleton tells it from "Copy Aces".
CYRILLIC_COPY = "\u0421\u043e\u0440\u0443 \u0410\u0441\u0435\u0455"


def create_data(name: str) -> dict:
    return {"name": name, "expiry": "30", "scopes": ["read"]}


@pytest.fixture
def existing(user):
    token, _value = services.api_token_create(user=user, name=EXISTING)
    services.api_token_create(user=user, name="Copy Aces")
    return token


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


def test_the_error_names_the_token_it_looks_like(user, existing):
    form = TokenCreateForm(data=create_data(CYRILLIC_COPY), user=user)

    form.is_valid()

    assert "looks the same as your token “Copy Aces”" in form.errors["name"][0]


def test_the_stored_name_is_nfkc(user):
    form = TokenCreateForm(data=create_data("Ｍｏｂｉｌｅ Backend"), user=user)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Mobile Backend"


def test_editing_a_token_keeps_its_own_name(user, existing):
    form = TokenEditForm(
        data={"name": EXISTING, "scopes": ["read"]}, user=user, instance_pk=existing.pk
    )

    assert form.is_valid(), form.errors


def test_another_owner_may_use_a_look_alike(other_user, existing):
    assert TokenCreateForm(data=create_data(CYRILLIC_COPY), user=other_user).is_valid()


def test_the_create_service_refuses_a_look_alike_too(user, existing):
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name=CYRILLIC_COPY)


def test_the_rename_service_refuses_a_look_alike(user, existing):
    other, _value = services.api_token_create(user=user, name="Staging Website")

    with pytest.raises(TokenNameTaken):
        services.api_token_rename(token=other, name="Alice Prоduction Website", actor=user)


def test_a_deleted_token_frees_its_look_alikes(user, existing):
    services.api_token_revoke(token=user.api_tokens.get(name="Copy Aces"), actor=user)

    assert TokenCreateForm(data=create_data(CYRILLIC_COPY), user=user).is_valid()


def test_a_name_stored_with_a_filler_still_blocks_its_plain_twin(user):
    """A name saved before fillers were refused keeps its plain look-alike out."""
    services.api_token_create(user=user, name="Production deploy\u3164")

    form = TokenCreateForm(data=create_data("Production deploy"), user=user)

    assert not form.is_valid()
    assert {error.code for error in form.errors.as_data()["name"]} == {"name_taken"}
    with pytest.raises(TokenNameTaken):
        services.api_token_create(user=user, name="Production deploy")
