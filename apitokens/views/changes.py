"""Changing one of the user's tokens from its modal: edit (name, permissions, IP
allowlist and its mode), regenerate its value (shown once), delete it; and, from its page,
enforce a report-only allowlist."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.sudo import sudo_required
from apitokens.forms import (
    ALLOWLIST_ENFORCE,
    ALLOWLIST_REPORT_ONLY,
    TokenEditForm,
    TokenRegenerateForm,
    name_taken_error,
)
from apitokens.services.audit import ClientInfo
from apitokens.services.changes import (
    api_token_allowlist_enforce,
    api_token_rename,
    api_token_update_allowed_ips,
    api_token_update_scopes,
)
from apitokens.services.tokens import (
    TokenNameTaken,
    TokenNotRegenerable,
    api_token_regenerate,
    api_token_revoke,
)
from apitokens.views.base import (
    LIST_TEMPLATE,
    HtmxHttpRequest,
    already_deleted,
    done,
    email_unverified,
    login_required_htmx,
    owned_token,
    show_new_value,
)
from common.clientip import client_ip


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_edit(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Rename a token, change its permissions or IP allowlist; its value stays the same."""
    token = owned_token(request, public_id)
    if token.is_revoked:
        return already_deleted(request, token)
    form = TokenEditForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        instance_pk=token.pk,
        current_ip=client_ip(request),
        initial={
            "name": token.name,
            "scopes": token.scope_list,
            "allowed_ips": token.allowed_ips,
            "allowlist_report_only": (
                ALLOWLIST_REPORT_ONLY if token.allowlist_report_only else ALLOWLIST_ENFORCE
            ),
        },
    )
    if request.method == "POST" and form.is_valid():
        client = ClientInfo.from_request(request)
        try:
            with transaction.atomic():
                api_token_rename(
                    token=token, name=form.cleaned_data["name"], actor=request.user, client=client
                )
                api_token_update_scopes(
                    token=token,
                    scopes=form.cleaned_data["scopes"],
                    actor=request.user,
                    client=client,
                )
                api_token_update_allowed_ips(
                    token=token,
                    allowed_ips=form.cleaned_data["allowed_ips"],
                    report_only=form.cleaned_data["allowlist_report_only"],
                    actor=request.user,
                    client=client,
                )
        except TokenNameTaken:
            form.add_error("name", name_taken_error(form.cleaned_data["name"]))
        else:
            messages.success(request, f"Token ‘{token.name}’ updated.")
            return done(request)
    context = {"form": form, "token": token}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#edit-modal", context)
    return render(request, "apitokens/token_edit.html", context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def token_regenerate(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Choose an overlap, then issue a new value for the token and show it once."""
    token = owned_token(request, public_id)
    if refusal := email_unverified(request):
        return refusal
    if token.is_revoked:
        return already_deleted(request, token)
    if request.method == "POST":
        form = TokenRegenerateForm(request.POST)
        if form.is_valid():
            try:
                token, value = api_token_regenerate(
                    token=token,
                    actor=request.user,
                    overlap=form.cleaned_data["overlap"],
                    client=ClientInfo.from_request(request),
                )
            except TokenNotRegenerable as error:
                form.add_error(None, str(error))
            else:
                return show_new_value(request, token=token, value=value, regenerated=True)
    else:
        form = TokenRegenerateForm()
    context = {"form": form, "token": token, "expired": token.is_expired()}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#regenerate-modal", context)
    return render(request, "apitokens/token_regenerate.html", context)


@never_cache
@login_required_htmx
@require_http_methods(["GET", "HEAD", "POST"])
def token_delete(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Confirm, then delete (revoke) a token. Deleting it again says so; never an error."""
    token = owned_token(request, public_id)
    if token.is_revoked:
        return already_deleted(request, token)
    if request.method == "POST":
        deleted = api_token_revoke(
            token=token, actor=request.user, client=ClientInfo.from_request(request)
        )
        if not deleted:
            return already_deleted(request, token)
        messages.success(request, f"Token ‘{token.name}’ deleted.")
        return done(request)
    context = {"token": token}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#delete-modal", context)
    return render(request, "apitokens/token_delete.html", context)


@never_cache
@login_required_htmx
@require_POST
@sudo_required
def token_allowlist_enforce(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """ "Enforce now" on a token's page: its report-only allowlist refuses other addresses
    from the next request. A second click, or a list already enforced, says so."""
    token = owned_token(request, public_id)
    if token.is_revoked:
        return already_deleted(request, token)
    enforced = api_token_allowlist_enforce(
        token=token, actor=request.user, client=ClientInfo.from_request(request)
    )
    if enforced:
        messages.success(
            request,
            f"Token ‘{token.name}’: its IP allowlist is enforced. Requests from other "
            "addresses are refused from now on.",
        )
    else:
        messages.info(request, f"Token ‘{token.name}’ has no report-only IP allowlist to enforce.")
    return redirect("apitokens:detail", public_id=token.public_id)
