"""A token page's right-sizing suggestions: apply one (read-only, allowlist) or dismiss it.
A suggested delete goes through the token's delete confirmation (`changes.token_delete`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.sudo import sudo_required
from apitokens.models import TokenSuggestionDismissal
from apitokens.services.audit import ClientInfo
from apitokens.services.suggestions import (
    APPLICABLE_KINDS,
    SuggestionOutdated,
    api_token_suggestion_apply,
    token_suggestion_dismiss,
)
from apitokens.views.base import HtmxHttpRequest, already_deleted, login_required_htmx, owned_token

Kind = TokenSuggestionDismissal.Kind
APPLIED = {
    Kind.READ_ONLY: "Token ‘{name}’ is now read-only.",
    Kind.ALLOWLIST: "Token ‘{name}’ now works only from the suggested addresses.",
}


def _back_to_token(public_id: str) -> HttpResponse:
    return redirect("apitokens:detail", public_id=public_id)


@never_cache
@login_required_htmx
@require_POST
@sudo_required
def token_suggestion_apply(request: HtmxHttpRequest, public_id: str, kind: str) -> HttpResponse:
    """Apply a suggestion in one click, if it still holds; then back to the token's page."""
    token = owned_token(request, public_id)
    if kind not in APPLICABLE_KINDS:
        raise Http404("No such suggestion.")
    if token.is_revoked:
        return already_deleted(request, token)
    try:
        api_token_suggestion_apply(
            token=token,
            kind=kind,
            actor=request.user,
            allowed_ips=request.POST.get("allowed_ips", ""),
            client=ClientInfo.from_request(request),
        )
    except SuggestionOutdated as outdated:
        messages.error(request, str(outdated))
    else:
        messages.success(request, APPLIED[kind].format(name=token.name))
    return _back_to_token(token.public_id)


@never_cache
@login_required_htmx
@require_POST
def token_suggestion_dismissal(request: HtmxHttpRequest, public_id: str, kind: str) -> HttpResponse:
    """Dismiss a suggestion for this token for good; then back to the token's page."""
    token = owned_token(request, public_id)
    if kind not in Kind.values:
        raise Http404("No such suggestion.")
    if token_suggestion_dismiss(token=token, kind=kind):
        messages.info(request, "Suggestion dismissed. It will not be shown again for this token.")
    return _back_to_token(token.public_id)
