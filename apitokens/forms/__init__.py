"""Forms of the API Tokens page: fields.py (the shared fields, hints and messages) and
tokens.py (the forms). Re-exported here for the views and tests."""

from apitokens.forms.fields import (
    ALLOWLIST_ENFORCE,
    ALLOWLIST_REPORT_ONLY,
    NAME_EXAMPLES,
    NAME_MAX_LENGTH,
    NAME_MIN_LENGTH,
    NO_EXAMPLE,
    AllowlistModeField,
    IPAllowlistField,
    ScopesField,
    TokenNameField,
    name_examples_for,
    name_help_text,
    name_taken_error,
    normalize_token_name,
    too_many_tokens_error,
)
from apitokens.forms.tokens import (
    PolicyExpiryForm,
    TokenCreateForm,
    TokenEditForm,
    TokenRegenerateForm,
)

__all__ = [
    "ALLOWLIST_ENFORCE",
    "ALLOWLIST_REPORT_ONLY",
    "NAME_EXAMPLES",
    "NAME_MAX_LENGTH",
    "NAME_MIN_LENGTH",
    "NO_EXAMPLE",
    "AllowlistModeField",
    "IPAllowlistField",
    "PolicyExpiryForm",
    "ScopesField",
    "TokenCreateForm",
    "TokenEditForm",
    "TokenNameField",
    "TokenRegenerateForm",
    "name_examples_for",
    "name_help_text",
    "name_taken_error",
    "normalize_token_name",
    "too_many_tokens_error",
]
