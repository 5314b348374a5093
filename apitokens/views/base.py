"""What the token pages share: the typed request, the htmx-aware login check, the
owner-scoped token lookup and the answers that close a modal or show a new value once."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from apitokens.models import APIToken

LIST_TEMPLATE = "apitokens/token_list.html"
# The event the token table listens for (`hx-trigger="tokensChanged from:body"`).
TOKENS_CHANGED_EVENT = "tokensChanged"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User


def login_required_htmx(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`login_required`, except that an htmx request (a modal) from a signed-out session
    sends the whole page to the login form instead of swapping it into the modal."""
    protected = login_required(view)

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            next_path = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(next_path).url)
        return protected(request, *args, **kwargs)

    return wrapper


def owned_token(request: HtmxHttpRequest, public_id: str) -> APIToken:
    """The signed-in user's token with this public id (deleted ones included), else 404:
    another account's id is a 404 by construction."""
    return get_object_or_404(request.user.api_tokens.all(), public_id=public_id)


def close_modal(request: HtmxHttpRequest) -> HttpResponse:
    """htmx answer that empties #modal-root, shows the messages and refreshes the table."""
    messages = render_to_string("base.html#messages", {"messages_oob": True}, request=request)
    response = HttpResponse(messages)
    return trigger_client_event(response, TOKENS_CHANGED_EVENT)


def done(request: HtmxHttpRequest) -> HttpResponse:
    """After an action: close the modal (htmx) or go back to the list (plain HTML)."""
    return close_modal(request) if request.htmx else redirect("apitokens:list")


def already_deleted(request: HtmxHttpRequest, token: APIToken) -> HttpResponse:
    """A second tab or a double click acted on a token that is gone: say so, no error."""
    messages.info(request, f"Token ‘{token.name}’ was already deleted.")
    return done(request)


def email_unverified(request: HtmxHttpRequest) -> HttpResponse | None:
    """An account whose address is not confirmed cannot mint tokens: say so on the list page
    (which offers to resend the link). None when the address is confirmed."""
    if request.user.email_verified:
        return None
    messages.error(
        request,
        "Confirm your email address before creating or regenerating tokens: open the link "
        "we emailed you, or send a new one below.",
    )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("apitokens:list"))
    return redirect("apitokens:list")


def show_new_value(
    request: HtmxHttpRequest, *, token: APIToken, value: str, regenerated: bool
) -> HttpResponse:
    """The show-once answer: the modal body (htmx, and the table refreshes) or the page."""
    context = {"token": token, "token_value": value, "regenerated": regenerated}
    if request.htmx:
        response = render(request, f"{LIST_TEMPLATE}#created-modal", context)
        return trigger_client_event(response, TOKENS_CHANGED_EVENT)
    return render(request, "apitokens/token_new.html", context)
