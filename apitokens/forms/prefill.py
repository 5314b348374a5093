"""Pre-filled "Create Token" links (token templates): `/account/tokens/new/?name=…&
permissions=…&expires=…&allowed_ips=…` fills the form in, never creates anything.

Each value is checked as the form would check it; a bad one is left out with a note that
names which one and why, so a link can never put an unusable or hidden value in the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django import forms
from django.http import QueryDict
from django.utils import timezone

from apitokens import allowlist, expiry
from apitokens.forms.fields import NAME_MAX_LENGTH
from apitokens.forms.tokens import TokenCreateForm
from apitokens.models import ALL_SCOPES
from apitokens.services.tokens import api_token_name_clash

PREFILL_PARAMETERS = ("name", "permissions", "expires", "allowed_ips")
# Longer than any list the field accepts (20 entries): not worth parsing.
ALLOWLIST_MAX_LENGTH = 2000
_PERMISSION_SEPARATORS = re.compile(r"[\s,+]+")
_LIFETIME = re.compile(r"(\d{1,3})d?")


@dataclass(slots=True)
class CreatePrefill:
    """What a link puts in the create form: `initial` values and a note per ignored one."""

    from_link: bool = False
    initial: dict = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def _printable(note: str) -> str:
    """A note without control or invisible characters a link may have put in it."""
    return "".join(char if char.isprintable() else "\N{REPLACEMENT CHARACTER}" for char in note)


def _first_error(error: forms.ValidationError) -> str:
    return next(iter(error.messages), "it is not valid")


def _name(value: str, form: TokenCreateForm, prefill: CreatePrefill) -> None:
    if len(value) > NAME_MAX_LENGTH:
        prefill.ignored.append(
            f"The name was ignored: it is {len(value)} characters long, the most is "
            f"{NAME_MAX_LENGTH}."
        )
        return
    if "<" in value or ">" in value:
        prefill.ignored.append("The name was ignored: it contains HTML (“<” or “>”).")
        return
    try:
        name = form.fields["name"].clean(value)
    except forms.ValidationError as error:
        prefill.ignored.append(f"The name was ignored: {_first_error(error)}")
        return
    existing = api_token_name_clash(owner=form.user, name=name)
    if existing is not None:
        prefill.ignored.append(
            f"The name was ignored: you already have a token named “{existing}”."
        )
        return
    prefill.initial["name"] = name


def _permissions(values: list[str], prefill: CreatePrefill) -> None:
    chosen = [part for value in values for part in _PERMISSION_SEPARATORS.split(value) if part]
    unknown = [part for part in chosen if part.lower() not in ALL_SCOPES]
    if unknown:
        prefill.ignored.append(
            f"The permissions were ignored: “{_shown(unknown[0])}” is not a permission "
            "(use read, write or both)."
        )
        return
    if chosen:
        lowered = {part.lower() for part in chosen}
        prefill.initial["scopes"] = [scope for scope in ALL_SCOPES if scope in lowered]


def _expires(value: str, form: TokenCreateForm, prefill: CreatePrefill) -> None:
    offered = {choice for choice, _label in form.fields["expiry"].choices}
    text = value.strip().lower()
    match = _LIFETIME.fullmatch(text)
    choice = match.group(1) if match else text
    if choice in offered and choice != expiry.EXPIRY_CUSTOM:
        prefill.initial["expiry"] = choice
        return
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is not None and expiry.EXPIRY_CUSTOM in offered:
        today = timezone.localdate(form.now)
        if today + timedelta(days=1) <= day <= form.latest_custom_date:
            prefill.initial["expiry"] = expiry.EXPIRY_CUSTOM
            prefill.initial["custom_expiry_date"] = day
            return
    prefill.ignored.append(
        f"The expiry “{_shown(value)}” was ignored: it is not one of the choices offered "
        "(choose one below)."
    )


def _allowed_ips(value: str, prefill: CreatePrefill) -> None:
    if len(value) > ALLOWLIST_MAX_LENGTH:
        prefill.ignored.append("The IP allowlist was ignored: it is far longer than a list can be.")
        return
    try:
        prefill.initial["allowed_ips"] = allowlist.allowlist_normalize(value)
    except allowlist.AllowlistError as error:
        prefill.ignored.append(f"The IP allowlist was ignored: {' '.join(error.messages)}")


def create_prefill(query: QueryDict, form: TokenCreateForm) -> CreatePrefill:
    """The create form's values from a link's query string (`PREFILL_PARAMETERS`; others
    are not ours and are left alone), with a note for each value left out."""
    prefill = CreatePrefill()
    present = {name: query.getlist(name) for name in PREFILL_PARAMETERS if name in query}
    prefill.from_link = any(value for values in present.values() for value in values)
    last = {name: values[-1] for name, values in present.items() if values and values[-1]}
    if "name" in last:
        _name(last["name"], form, prefill)
    if any(present.get("permissions", [])):
        _permissions(present["permissions"], prefill)
    if "expires" in last:
        _expires(last["expires"], form, prefill)
    if "allowed_ips" in last:
        _allowed_ips(last["allowed_ips"], prefill)
    prefill.ignored = [_printable(note) for note in prefill.ignored]
    return prefill
