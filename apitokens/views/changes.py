"""Changing one of the user's tokens: edit (name, permissions, IP allowlist and its mode),
regenerate its value (shown once) and delete it from their modals; from its page, pause and
resume it, end a regenerate's overlap now, and enforce a report-only allowlist."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.sudo import sudo_required
from apitokens import allowlist
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
from apitokens.services.pause import ResumeNeedsStaff, api_token_pause, api_token_resume
from apitokens.services.suggestions import SuggestionOutdated, api_token_delete_suggestion_check
from apitokens.services.tokens import (
    TokenNameTaken,
    TokenNotRegenerable,
    api_token_overlap_end,
    api_token_regenerate,
    api_token_revoke,
)
from apitokens.views.base import (
    LIST_TEMPLATE,
    HtmxHttpRequest,
    already_deleted,
    close_modal,
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
    initial = {
        "name": token.name,
        "scopes": token.scope_list,
        "allowed_ips": token.allowed_ips,
        "allowlist_report_only": (
            ALLOWLIST_REPORT_ONLY if token.allowlist_report_only else ALLOWLIST_ENFORCE
        ),
    }
    # "Edit first" on an allowlist suggestion opens the form with the list filled in.
    if request.method != "POST" and (suggested := _suggested_allowlist(request)):
        initial["allowed_ips"] = suggested
    form = TokenEditForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        instance_pk=token.pk,
        current_ip=client_ip(request),
        initial=initial,
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


def _suggested_allowlist(request: HtmxHttpRequest) -> str:
    """The allowlist in the URL's `allowed_ips`, stored form; "" when absent or unusable."""
    try:
        return allowlist.allowlist_normalize(request.GET.get("allowed_ips", "")[:2000])
    except allowlist.AllowlistError:
        return ""


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
                    until_quiet=form.cleaned_data["until_quiet"],
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
    # Confirmed from the "delete it" suggestion: only while the token is still unused.
    suggested = request.GET.get("suggestion") == "delete"
    if request.method == "POST" and request.POST.get("suggestion") == "delete":
        try:
            api_token_delete_suggestion_check(token=token)
        except SuggestionOutdated as outdated:
            messages.error(request, str(outdated))
            if request.htmx:
                return close_modal(request)
            return redirect("apitokens:detail", public_id=token.public_id)
    if request.method == "POST":
        deleted = api_token_revoke(
            token=token, actor=request.user, client=ClientInfo.from_request(request)
        )
        if not deleted:
            return already_deleted(request, token)
        messages.success(request, f"Token ‘{token.name}’ deleted.")
        return done(request)
    context = {"token": token, "suggested": suggested}
    if request.htmx:
        return render(request, f"{LIST_TEMPLATE}#delete-modal", context)
    return render(request, "apitokens/token_delete.html", context)


@never_cache
@login_required_htmx
@require_POST
@sudo_required
def token_overlap_end(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Stop the old value of a regenerated token now (the token page's "End overlap now"),
    then show the token's page again with a message."""
    token = owned_token(request, public_id)
    # The old value the owner saw: a regenerate in another tab meanwhile ends nothing.
    shown = request.POST.get("previous", "")[:16]
    if "\x00" in shown:  # never an identifier, and PostgreSQL refuses it in a query
        shown = ""
    ended = token.revoked_at is None and api_token_overlap_end(
        token=token,
        actor=request.user,
        previous_identifier=shown,
        client=ClientInfo.from_request(request),
    )
    if ended:
        messages.success(
            request, f"The old value of ‘{token.name}’ stopped working: only the new one works."
        )
    else:
        messages.info(
            request,
            f"The old value of ‘{token.name}’ was no longer working, or the token changed "
            "meanwhile: nothing was changed.",
        )
    return redirect("apitokens:detail", public_id=token.public_id)


@never_cache
@login_required_htmx
@require_POST
def token_pause(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Pause a token: the API refuses it until it is resumed. Like Delete, it only takes
    access away, so it needs no sudo: an owner who suspects a leak acts at once."""
    token = owned_token(request, public_id)
    if token.is_revoked:
        return already_deleted(request, token)
    if api_token_pause(token=token, actor=request.user, client=ClientInfo.from_request(request)):
        messages.success(
            request,
            f"Token ‘{token.name}’ paused. Applications using it get “401 token_paused” until "
            "you resume it.",
        )
    else:
        token.refresh_from_db(fields=["revoked_at"])
        if token.is_revoked:
            return already_deleted(request, token)
        messages.info(request, f"Token ‘{token.name}’ was already paused.")
    return _back_to_token(request, token)


@never_cache
@login_required_htmx
@require_POST
@sudo_required
def token_resume(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Resume a paused token: it works again from the next request (sudo: it gives access
    back, as Regenerate and Edit can)."""
    token = owned_token(request, public_id)
    if token.is_revoked:
        return already_deleted(request, token)
    try:
        resumed = api_token_resume(
            token=token, actor=request.user, client=ClientInfo.from_request(request)
        )
    except ResumeNeedsStaff:
        messages.error(
            request,
            f"QuickBot staff paused ‘{token.name}’, so only staff can resume it. "
            "Contact QuickBot support; until then the API keeps refusing it.",
        )
        return _back_to_token(request, token)
    if resumed:
        messages.success(request, f"Token ‘{token.name}’ resumed. It works again.")
    else:
        token.refresh_from_db(fields=["revoked_at"])
        if token.is_revoked:
            return already_deleted(request, token)
        messages.info(request, f"Token ‘{token.name}’ was not paused.")
    return _back_to_token(request, token)


def _back_to_token(request: HtmxHttpRequest, token) -> HttpResponse:
    """Back to the token's page, which shows the message (htmx: the browser loads it, as a
    refresh of the page in place would answer #messages empty)."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse("apitokens:detail", args=[token.public_id]))
    return redirect("apitokens:detail", public_id=token.public_id)


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
