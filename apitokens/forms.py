"""Forms of the API Tokens page: create, edit permissions and name, regenerate.

Forms validate and do not act: the views call the services.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django import forms
from django.utils import dateformat, timezone

from accounts.models import User
from apitokens import allowlist, expiry
from apitokens.models import ALL_SCOPES, SCOPE_READ, SCOPE_WRITE, TokenPolicy
from apitokens.services.tokens import api_token_limit, api_token_name_clash
from common.names import name_clean, name_skeleton

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 100
# Names the hints suggest, in this order (the help article's first); the forms skip any the
# account already uses (the demo account has the article's three), so a hint never suggests
# a name the form would refuse as taken.
NAME_EXAMPLES = (
    "Production Website Integration",
    "Development Testing",
    "Mobile App Backend",
    "Nightly Backup Job",
    "Billing Service Sync",
    "Staging Deploy Script",
    "Support Dashboard",
    "Inventory Importer",
)
NO_EXAMPLE = "the name of the app or server that will use it"


def name_help_text(examples: Sequence[str]) -> str:
    """The name field's help text, suggesting up to three of `examples`."""
    quoted = [f"“{example}”" for example in examples[:3]]
    if not quoted:
        return "Say where the token will be used (not “Token 1” or “API Key”)."
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"Say where the token will be used, e.g. {listed} (not “Token 1” or “API Key”)."


def name_examples_for(user: User) -> tuple[str, ...]:
    """NAME_EXAMPLES without the names (as a reader sees them) of the user's active tokens."""
    taken = {
        name_skeleton(name) for name in user.api_tokens.active().values_list("name", flat=True)
    }
    return tuple(example for example in NAME_EXAMPLES if name_skeleton(example) not in taken)


NAME_HELP_TEXT = name_help_text(NAME_EXAMPLES)
SCOPE_CHOICES = (
    (SCOPE_READ, "Read: view data (GET requests)"),
    (SCOPE_WRITE, "Write: create, change and delete data"),
)

# Names that say nothing about where a token is used: "Token 1", "API Key", "key",
# "test", "new token", "my api token 2"...
_MEANINGLESS_NAME = re.compile(
    r"""^(?:(?:my|new|the|a|an|api|access|personal|secret)[\s_.-]*)*
        (?:tokens?|keys?|tests?|testing|api|apikey|secret|temp|tmp|foo|bar|asdf|qwerty|untitled)
        (?:[\s_.#-]*\d+)?$""",
    re.IGNORECASE | re.VERBOSE,
)


def normalize_token_name(value: str) -> str:
    """NFKC, then trim and collapse runs of whitespace, so "  CI   deploy " and "CI deploy"
    are one name (and full-width "ＣＩ" is "CI")."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


class TokenNameField(forms.CharField):
    """A token name: trimmed, 3 to 100 characters, printable, and meaningful."""

    default_error_messages = {
        "required": "Give the token a name.",
        "min_length": "Use at least %(limit_value)d characters for the name.",
        "max_length": (
            "Use at most %(limit_value)d characters for the name (it has %(show_value)d)."
        ),
        "meaningless": (
            "“%(name)s” does not say what the token is for. Describe where it will be used, "
            "for example %(example)s."
        ),
    }
    examples: tuple[str, ...] = NAME_EXAMPLES

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Token Name")
        kwargs.setdefault("help_text", NAME_HELP_TEXT)
        super().__init__(
            min_length=NAME_MIN_LENGTH, max_length=NAME_MAX_LENGTH, strip=True, **kwargs
        )
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def suggest(self, examples: Sequence[str]) -> None:
        """Suggest these names (not the account's own) in the help text and the error."""
        self.examples = tuple(examples)
        self.help_text = name_help_text(self.examples)

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_token_name(value) if value else value

    def validate(self, value: str) -> None:
        super().validate(value)
        # Invisible characters and look-alike letters from another script, named in the error.
        name_clean(value)
        if _MEANINGLESS_NAME.match(value) or not any(char.isalpha() for char in value):
            example = f"“{self.examples[0]}”" if self.examples else NO_EXAMPLE
            raise forms.ValidationError(
                self.error_messages["meaningless"],
                code="meaningless",
                params={"name": value, "example": example},
            )


class ScopesField(forms.MultipleChoiceField):
    """The read/write permissions checkboxes; at least one."""

    default_error_messages = {
        "required": "Choose at least one permission.",
        "invalid_choice": "“%(value)s” is not a permission. Choose Read, Write or both.",
        "invalid_list": "Choose Read, Write or both.",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Permissions")
        kwargs.setdefault(
            "help_text",
            "Read is enough for scripts that only fetch data. You can change this later.",
        )
        super().__init__(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, **kwargs)

    def clean(self, value) -> tuple[str, ...]:
        chosen = set(super().clean(value))
        # Canonical order, whatever order the browser sent.
        return tuple(scope for scope in ALL_SCOPES if scope in chosen)


ALLOWLIST_HELP_TEXT = (
    "Optional. Only requests from these IPv4/IPv6 addresses or CIDR ranges may use the "
    "token, one per line (e.g. 203.0.113.7 or 198.51.100.0/24), at most %(max)d. "
    "Leave empty to allow any address."
)


class IPAllowlistField(forms.CharField):
    """The token's IP allowlist as typed; cleans to the normalised stored text."""

    default_error_messages = {
        "required": "Add at least one address or range: the token policy requires an IP "
        "allowlist for new tokens.",
    }

    def __init__(self, *, current_ip: str | None = None, **kwargs) -> None:
        kwargs.setdefault("label", "IP allowlist")
        kwargs.setdefault("required", False)
        super().__init__(
            widget=forms.Textarea(
                attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false", "class": "mono"}
            ),
            **kwargs,
        )
        self.set_current_ip(current_ip)

    def set_current_ip(self, current_ip: str | None) -> None:
        """Put the address the user is on now in the help text (the hint)."""
        text = ALLOWLIST_HELP_TEXT % {"max": allowlist.MAX_ENTRIES}
        if current_ip:
            text += f" You are connecting from {current_ip}."
        self.help_text = text

    def to_python(self, value) -> str:
        value = super().to_python(value)
        try:
            return allowlist.allowlist_normalize(value)
        except allowlist.AllowlistError as error:
            raise forms.ValidationError(
                [
                    forms.ValidationError(message, code=code)
                    for message, code in zip(error.messages, error.codes, strict=True)
                ]
            ) from None


def name_taken_error(name: str, existing: str | None = None) -> forms.ValidationError:
    """The error for a name another active token of the same owner already has, or one that
    looks the same (`existing`, when it is spelled differently)."""
    if existing is not None and existing.casefold() != name.casefold():
        return forms.ValidationError(
            "“%(name)s” looks the same as your token “%(existing)s”. Choose another name.",
            code="name_taken",
            params={"name": name, "existing": existing},
        )
    return forms.ValidationError(
        "You already have a token named “%(name)s”. Choose another name.",
        code="name_taken",
        params={"name": name},
    )


def too_many_tokens_error(limit: int) -> forms.ValidationError:
    """The error for an account that already has `limit` active tokens."""
    return forms.ValidationError(
        "You have reached the limit of %(limit)d active tokens. Delete a token you no "
        "longer use, then create the new one.",
        code="too_many_tokens",
        params={"limit": limit},
    )


class _TokenNameUniqueMixin:
    """Checks the name against the owner's other active tokens as a reader sees them
    (case and look-alike characters ignored: TR39 skeletons)."""

    user: User
    instance_pk: int | None = None

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        existing = api_token_name_clash(owner=self.user, name=name, exclude_pk=self.instance_pk)
        if existing is not None:
            raise name_taken_error(name, existing)
        return name


class TokenCreateForm(_TokenNameUniqueMixin, forms.Form):
    """The "Create Token" form: name, expiry, permissions and IP allowlist.

    After validation, `cleaned_data` holds `expires_at` and `lifetime_days` ready for
    `services.api_token_create`.
    """

    name = TokenNameField()
    expiry = forms.ChoiceField(
        label="Expiration",
        choices=expiry.EXPIRY_CHOICES,
        error_messages={
            "required": "Choose when the token expires.",
            "invalid_choice": "Choose one of the offered expiry options.",
        },
    )
    custom_expiry_date = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )
    scopes = ScopesField(initial=[SCOPE_READ])
    allowed_ips = IPAllowlistField()

    def __init__(
        self,
        *args,
        user: User,
        now: datetime | None = None,
        current_ip: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].suggest(name_examples_for(user))
        self.fields["allowed_ips"].set_current_ip(current_ip)
        self.now = now or timezone.now()
        self.policy = TokenPolicy.current()
        self.max_lifetime_days = self.policy.max_lifetime_days
        self.fields["expiry"].choices = expiry.available_expiry_choices(
            self.max_lifetime_days, expiry_required=self.policy.expiry_required
        )
        self.fields["expiry"].initial = expiry.default_expiry_choice(self.max_lifetime_days)
        self.fields["expiry"].widget.attrs["data-expiry-select"] = ""
        if self.policy.allowlist_required:
            self.fields["allowed_ips"].required = True
        today = timezone.localdate(self.now)
        latest = self.latest_custom_date
        self.fields["custom_expiry_date"].widget.attrs.update(
            {"min": (today + timedelta(days=1)).isoformat(), "max": latest.isoformat()}
        )
        self.fields["custom_expiry_date"].help_text = (
            f"Used when “Custom date” is chosen. The token works until the end of that day "
            f"(latest {dateformat.format(latest, 'j M Y')})."
        )

    @property
    def allows_no_expiration(self) -> bool:
        return self.policy.allows_no_expiration

    @property
    def policy_notes(self) -> list[str]:
        """Why some choices are missing: the staff token policy, in the user's words."""
        notes = []
        if self.max_lifetime_days:
            notes.append(
                f"tokens expire within {self.max_lifetime_days} days, so longer expiries "
                "and “No expiration” are not offered"
            )
        elif self.policy.expiry_required:
            notes.append("every token must expire, so “No expiration” is not offered")
        if self.policy.allowlist_required:
            notes.append("new tokens need an IP allowlist")
        return notes

    @property
    def latest_custom_date(self) -> date:
        days = expiry.CUSTOM_DATE_MAX_DAYS
        if self.max_lifetime_days:
            days = min(days, self.max_lifetime_days)
        return timezone.localdate(self.now) + timedelta(days=days)

    def clean(self) -> dict:
        cleaned_data = super().clean()
        # A hint before the rest is checked; api_token_create enforces the cap under its lock.
        limit = api_token_limit()
        if self.user.api_tokens.active().count() >= limit:
            raise too_many_tokens_error(limit)
        choice = cleaned_data.get("expiry")
        if choice is None:
            return cleaned_data
        if choice == expiry.EXPIRY_CUSTOM and self.has_error("custom_expiry_date"):
            return cleaned_data  # unreadable date: its own error says so
        try:
            expires_at, lifetime_days = expiry.expiry_from_choice(
                choice,
                cleaned_data.get("custom_expiry_date"),
                self.now,
                self.max_lifetime_days,
                expiry_required=self.policy.expiry_required,
            )
        except ValueError as error:
            field = "custom_expiry_date" if choice == expiry.EXPIRY_CUSTOM else "expiry"
            self.add_error(field, forms.ValidationError(str(error), code="invalid_expiry"))
        else:
            cleaned_data["expires_at"] = expires_at
            cleaned_data["lifetime_days"] = lifetime_days
        return cleaned_data


class TokenEditForm(_TokenNameUniqueMixin, forms.Form):
    """Rename a token, change its permissions or IP allowlist; the value stays the same."""

    name = TokenNameField()
    scopes = ScopesField(help_text="Read is enough for scripts that only fetch data.")
    allowed_ips = IPAllowlistField()

    def __init__(
        self, *args, user: User, instance_pk: int, current_ip: str | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance_pk = instance_pk
        self.fields["name"].suggest(name_examples_for(user))
        self.fields["allowed_ips"].set_current_ip(current_ip)


class TokenRegenerateForm(forms.Form):
    """Choose how long the current value keeps working after a regenerate."""

    overlap = forms.ChoiceField(
        label="When should the current value stop working?",
        choices=expiry.OVERLAP_CHOICES,
        initial=expiry.DEFAULT_OVERLAP_CHOICE,
        widget=forms.RadioSelect,
        help_text=(
            "An overlap gives you time to update your applications. "
            "If the token may have leaked, choose Immediately."
        ),
        error_messages={
            "required": "Choose when the current value should stop working.",
            "invalid_choice": "Choose when the current value should stop working.",
        },
    )

    def clean_overlap(self) -> timedelta:
        try:
            return expiry.overlap_from_choice(self.cleaned_data["overlap"])
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid_overlap") from None


class PolicyExpiryForm(forms.Form):
    """Staff: the date tokens that break the token policy stop working (end of that day)."""

    expires_on = forms.DateField(
        label="Expire on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The tokens stop working at the end of this day (site time). Tokens that "
        "already expire earlier are left alone.",
        error_messages={
            "required": "Choose the date the tokens should expire.",
            "invalid": "Enter the date as YYYY-MM-DD.",
        },
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate(now or timezone.now())
        self.today = today
        self.fields["expires_on"].initial = today + timedelta(days=7)
        self.fields["expires_on"].widget.attrs.update(
            {
                "min": (today + timedelta(days=1)).isoformat(),
                "max": (today + timedelta(days=expiry.CUSTOM_DATE_MAX_DAYS)).isoformat(),
            }
        )

    def clean_expires_on(self) -> datetime:
        day = self.cleaned_data["expires_on"]
        if day <= self.today:
            raise forms.ValidationError(
                "Choose a date after today, so owners have time to replace their tokens.",
                code="too_soon",
            )
        if day > self.today + timedelta(days=expiry.CUSTOM_DATE_MAX_DAYS):
            raise forms.ValidationError("Choose a date within a year from today.", code="too_late")
        return expiry.end_of_day(day)
