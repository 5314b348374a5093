"""The token list's staff actions: delete (revoke) the selected tokens and bring their
expiry forward to a date (token policy), each a confirmation page then a service call; pause
and resume them, at once (both are undone as easily). All need the revoke permission
(`APITokenAdmin.has_revoke_permission`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from apitokens import policy, services
from apitokens.forms import PolicyExpiryForm
from apitokens.models import APIToken, TokenPolicy

CHANGE_FORM_ACTION = f"{admin.ActionLocation.CHANGE_FORM.value}-action"


def _confirmation(
    model_admin: admin.ModelAdmin, request: HttpRequest, template: str, **context
) -> TemplateResponse:
    """The confirmation page of an action, re-posting the selection."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def _plural(count: int) -> str:
    return "s" if count != 1 else ""


@admin.action(
    description="Delete selected tokens…",
    permissions=["revoke"],
    location=[admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM],
)
def revoke_selected(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Ask for confirmation, then revoke each selected active token through the service,
    recording the staff member who did it."""
    tokens = list(queryset.filter(revoked_at__isnull=True).select_related("owner").order_by("pk"))
    already_deleted = queryset.filter(revoked_at__isnull=False).count()
    if request.POST.get("post") == "yes":
        client = services.ClientInfo.from_request(request)
        revoked = 0
        for token in tokens:
            if services.api_token_revoke(
                token=token, actor=request.user, reason=APIToken.RevokedBy.STAFF, client=client
            ):
                revoked += 1
                model_admin.log_change(request, token, "Deleted (revoked) by staff.")
        if revoked:
            model_admin.message_user(
                request,
                f"Deleted (revoked) {revoked} token{_plural(revoked)}. "
                "Applications using them lost access immediately.",
                messages.SUCCESS,
            )
        else:
            model_admin.message_user(
                request, "Nothing to do: the selected tokens were already deleted.", messages.INFO
            )
        return None
    return _confirmation(
        model_admin,
        request,
        "admin/apitokens/apitoken/revoke_selected_confirmation.html",
        title="Delete tokens?",
        tokens=tokens,
        already_deleted=already_deleted,
        action_field_name=CHANGE_FORM_ACTION if CHANGE_FORM_ACTION in request.POST else "action",
    )


@admin.action(description="Expire selected tokens on a date (token policy)", permissions=["revoke"])
def expire_selected(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Ask for a date, then bring each selected usable token's expiry forward to the end
    of that day through the service (security log, owner emailed). Tokens that expire
    earlier already, deleted or expired ones are left alone."""
    now = timezone.now()
    current_policy = TokenPolicy.current()
    selected = list(queryset.select_related("owner").order_by("pk"))
    usable = [token for token in selected if token.status(now) == "active"]
    confirmed = request.POST.get("post") == "yes"
    form = PolicyExpiryForm(request.POST if confirmed else None, now=now)
    if confirmed and form.is_valid():
        expires_at = form.cleaned_data["expires_on"]
        client = services.ClientInfo.from_request(request)
        changed = 0
        for token in usable:
            if services.api_token_expire_by_policy(
                token=token, expires_at=expires_at, actor=request.user, client=client, now=now
            ):
                changed += 1
                model_admin.log_change(request, token, "Expiry brought forward (token policy).")
        day = timezone.localdate(expires_at)
        if changed:
            model_admin.message_user(
                request,
                f"{changed} token{_plural(changed)} now expire on {day:%Y-%m-%d}; "
                "their owners were emailed.",
                messages.SUCCESS,
            )
        else:
            model_admin.message_user(
                request,
                f"Nothing to do: the selected tokens already expire by {day:%Y-%m-%d}, or "
                "are deleted or expired.",
                messages.INFO,
            )
        return None
    return _confirmation(
        model_admin,
        request,
        "admin/apitokens/apitoken/expire_selected_confirmation.html",
        title="Expire tokens on a date?",
        form=form,
        rows=[(token, policy.breach_reasons(token, current_policy, now)) for token in usable],
        left_alone=len(selected) - len(usable),
    )


@admin.action(description="Pause selected tokens", permissions=["revoke"])
def pause_selected(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Pause each selected token that is not deleted through the service (security log,
    owner emailed); paused or deleted ones are left alone."""
    count = _pause_state_apply(model_admin, request, queryset, paused=True)
    if count:
        model_admin.message_user(
            request,
            f"Paused {count} token{_plural(count)}: the API refuses them until they are "
            "resumed. Their owners were emailed.",
            messages.SUCCESS,
        )
    else:
        model_admin.message_user(
            request,
            "Nothing to do: the selected tokens are already paused or deleted.",
            messages.INFO,
        )
    return None


@admin.action(description="Resume selected tokens", permissions=["revoke"])
def resume_selected(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Resume each selected paused token that is not deleted through the service (security
    log, owner emailed); the others are left alone."""
    count = _pause_state_apply(model_admin, request, queryset, paused=False)
    if count:
        model_admin.message_user(
            request,
            f"Resumed {count} token{_plural(count)}: they work again. Their owners were emailed.",
            messages.SUCCESS,
        )
    else:
        model_admin.message_user(
            request, "Nothing to do: none of the selected tokens is paused.", messages.INFO
        )
    return None


def _pause_state_apply(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *, paused: bool
) -> int:
    """Pause (or resume) the selected live tokens through the service; how many changed."""
    tokens = queryset.filter(revoked_at__isnull=True, paused_at__isnull=paused)
    change = services.api_token_pause if paused else services.api_token_resume
    client = services.ClientInfo.from_request(request)
    changed = 0
    for token in tokens.select_related("owner").order_by("pk"):
        if change(token=token, actor=request.user, client=client):
            changed += 1
            model_admin.log_change(
                request, token, "Paused by staff." if paused else "Resumed by staff."
            )
    return changed
