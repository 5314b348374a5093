"""The fields the API Tokens forms share, with their hints and error messages: a token's
name (its help text and examples), its permissions, its IP allowlist."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from django import forms

from accounts.models import User
from apitokens import allowlist
from apitokens.models import ALL_SCOPES, SCOPE_READ, SCOPE_WRITE
from apitokens.services.tokens import api_token_name_clash
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


ALLOWLIST_ENFORCE = "enforce"
ALLOWLIST_REPORT_ONLY = "report_only"


class AllowlistModeField(forms.ChoiceField):
    """Whether the IP allowlist refuses other addresses or only reports them; cleans to
    True for report only. Not sent (an old form, a script): enforce."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "When a request comes from another address")
        kwargs.setdefault("required", False)
        kwargs.setdefault("initial", ALLOWLIST_ENFORCE)
        kwargs.setdefault(
            "help_text",
            "Report only lets you try a list on real traffic first: such requests are served "
            "and listed on the token's page as “Would have been refused”.",
        )
        super().__init__(
            choices=(
                (ALLOWLIST_ENFORCE, "Enforce: refuse it"),
                (
                    ALLOWLIST_REPORT_ONLY,
                    "Report only (log requests from other addresses, refuse none)",
                ),
            ),
            widget=forms.RadioSelect,
            error_messages={"invalid_choice": "Choose Enforce or Report only."},
            **kwargs,
        )

    def clean(self, value) -> bool:
        return super().clean(value) == ALLOWLIST_REPORT_ONLY


def report_only_policy_error() -> forms.ValidationError:
    """The error for a report-only list where the token policy requires an allowlist: only
    an enforced one meets it."""
    return forms.ValidationError(
        "The token policy requires an enforced IP allowlist: choose “Enforce” (report only "
        "refuses nothing).",
        code="report_only_not_allowed",
    )


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
