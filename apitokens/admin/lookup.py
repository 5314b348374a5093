"""The staff "Find a token by its value" page: staff paste a full token value (from a
support ticket, a leak) and learn which token it is, current or previous value, and whose.

Routed by `APITokenAdmin.get_urls` at /admin/apitokens/apitoken/lookup/ (URL name
`admin:apitokens_apitoken_lookup`), linked from the token list and the admin index. The
value travels only in the POST body: it is digested with the API's function, never stored,
logged, cached or shown again (the field does not re-render it, the response is never
cached, error reports hide it). Each lookup is a security-log event.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from apitokens import services, tokens
from apitokens.models import APIToken

VALUE_FIELD = "value"


class TokenLookupForm(forms.Form):
    """One pasted token value, stripped; it must be a well-formed QuickBot token."""

    error_messages = {
        "not_a_token": (
            "This is not a QuickBot token: tokens start with “qb_” and are "
            f"{tokens.TOKEN_LENGTH} characters long (letters and digits). Copy the whole value."
        ),
        "mistyped": (
            "This value is mistyped or incomplete: its checksum does not match. "
            "Copy the whole value again."
        ),
    }

    value = forms.CharField(
        label="Token value",
        strip=True,
        # The field never shows a value back: not after a lookup, not after an error.
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "vTextField"},
        ),
        help_text="The full value, starting with qb_. It is not stored or shown again.",
        error_messages={"required": "Paste a full token value."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Django's NUL check says "null characters": ours says what a token looks like.
        self.fields[VALUE_FIELD].validators = []

    def clean_value(self) -> str:
        value = self.cleaned_data[VALUE_FIELD]
        if not tokens.has_token_shape(value):
            raise ValidationError(self.error_messages["not_a_token"], code="not_a_token")
        if not tokens.is_well_formed(value):
            raise ValidationError(self.error_messages["mistyped"], code="mistyped")
        return value


@sensitive_post_parameters(VALUE_FIELD)
@never_cache
@require_http_methods(["GET", "POST"])
def token_lookup(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: which token has the pasted value (and whose), or none."""
    if not request.user.has_perm("apitokens.view_apitoken"):
        raise PermissionDenied
    form = TokenLookupForm(request.POST if request.method == "POST" else None)
    looked_up = False
    lookup = None
    if form.is_valid():
        lookup = services.api_token_find_by_value(
            value=form.cleaned_data[VALUE_FIELD],
            actor=request.user,
            client=services.ClientInfo.from_request(request),
        )
        looked_up = True
        # A fresh form: the answer page holds no trace of the value.
        form = TokenLookupForm()
    context = {
        **admin.site.each_context(request),
        "title": "Find a token by its value",
        "opts": APIToken._meta,
        "form": form,
        "looked_up": looked_up,
        "lookup": lookup,
    }
    return TemplateResponse(request, "admin/apitokens/apitoken/lookup.html", context)
