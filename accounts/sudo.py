"""Sudo mode (GitHub's): sensitive actions need the password (or, with two-factor on, an
authenticator code) entered within the last QUICKBOT_SUDO_SECONDS.

Signing in counts (the `user_logged_in` receiver stamps the session). A view wrapped in
`sudo_required` answers an account outside that window with a password prompt instead of
running: an htmx modal (`accounts/sudo.html#sudo-modal`) or, without JavaScript, a page.
The prompt posts back to the same URL with the original form's fields as hidden inputs, so
a correct password resumes the very action asked for: a GET (opening a form) is
redirected to itself (htmx: fetched again into the modal), a POST runs with its original
data. Wrong entries count in the login limiter, per IP and per account.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django_htmx.http import HttpResponseLocation

from accounts.login_limiter import login_failure_record, login_lockout_get
from accounts.two_factor import totp_verify, two_factor_enabled
from common.clientip import client_ip

SESSION_KEY = "sudo_at"
PASSWORD_FIELD = "sudo_password"
RESUME_FIELD = "sudo_resume"  # "GET" when the prompt stood in for opening a form
SUDO_FIELDS = frozenset({PASSWORD_FIELD, RESUME_FIELD, "csrfmiddlewaretoken"})
TEMPLATE = "accounts/sudo.html"


def _now() -> float:
    return time.time()


def sudo_grant(request: HttpRequest) -> None:
    """Start (or renew) the sudo window of this session."""
    request.session[SESSION_KEY] = _now()


def sudo_active(request: HttpRequest) -> bool:
    """Whether the password was entered within QUICKBOT_SUDO_SECONDS in this session."""
    granted_at = request.session.get(SESSION_KEY)
    if not isinstance(granted_at, int | float):
        return False
    return 0 <= _now() - granted_at <= settings.QUICKBOT_SUDO_SECONDS


def grant_on_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """`user_logged_in` receiver: signing in with the password starts the sudo window."""
    if request is not None and hasattr(request, "session"):
        sudo_grant(request)


def _replayed_fields(request: HttpRequest) -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    return [
        (name, value)
        for name, values in request.POST.lists()
        if name not in SUDO_FIELDS
        for value in values
    ]


def _prompt(request: HttpRequest, *, error: str = "", lockout=None) -> HttpResponse:
    resume_get = request.method in ("GET", "HEAD") or request.POST.get(RESUME_FIELD) == "GET"
    context = {
        "action": request.get_full_path(),
        "fields": _replayed_fields(request),
        "resume_get": resume_get,
        "error": error,
        "lockout": lockout,
        "sudo_minutes": max(1, settings.QUICKBOT_SUDO_SECONDS // 60),
        "two_factor_on": two_factor_enabled(request.user),
        "cancel_url": "accounts:security" if "/security/" in request.path else "apitokens:list",
    }
    is_htmx = bool(getattr(request, "htmx", False))
    template = f"{TEMPLATE}#sudo-modal" if is_htmx else TEMPLATE
    status = HTTPStatus.TOO_MANY_REQUESTS if lockout else HTTPStatus.OK
    # An htmx answer of 429 would not be swapped; the modal says it instead.
    response = render(request, template, context, status=HTTPStatus.OK if is_htmx else status)
    if lockout:
        response["Retry-After"] = str(lockout.retry_after_seconds)
    return response


def sudo_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run `view` only inside the sudo window; otherwise ask for the password and resume."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated or sudo_active(request):
            return view(request, *args, **kwargs)
        if request.method != "POST" or PASSWORD_FIELD not in request.POST:
            return _prompt(request)
        ip, email = client_ip(request), request.user.email
        lockout = login_lockout_get(ip=ip, email=email)
        if lockout is not None:
            return _prompt(request, lockout=lockout)
        entered = request.POST[PASSWORD_FIELD]
        # The password, or with two-factor on, a code from the authenticator app.
        if not (
            request.user.check_password(entered) or totp_verify(user=request.user, code=entered)
        ):
            lockout = login_failure_record(ip=ip, email=email)
            # A code is only an answer for an account with two-factor on.
            or_code = " (or a current code)" if two_factor_enabled(request.user) else ""
            return _prompt(
                request,
                error=f"That is not your password{or_code}. Please try again.",
                lockout=lockout,
            )
        sudo_grant(request)
        if request.POST.get(RESUME_FIELD) == "GET":
            if getattr(request, "htmx", False):
                # htmx fetches the form itself (with its headers) into the same modal.
                return HttpResponseLocation(
                    request.get_full_path(), target="#modal-root", swap="innerHTML"
                )
            return HttpResponseRedirect(request.get_full_path(), status=HTTPStatus.SEE_OTHER)
        original = QueryDict(mutable=True)
        for name, value in _replayed_fields(request):
            original.appendlist(name, value)
        original.setlist("csrfmiddlewaretoken", request.POST.getlist("csrfmiddlewaretoken"))
        request.POST = original
        return view(request, *args, **kwargs)

    return wrapper
