"""Signing in and out: email and password, the two-factor code step, and logout.

Both steps are limited like each other (per IP and per account) and end in one place,
`_sign_in`, whichever step completes the sign-in.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import LoginForm, SecondFactorForm
from accounts.login_limiter import login_failure_record, login_lockout_get, login_success_record
from accounts.models import AccountEvent, User
from accounts.services import account_event_record
from accounts.two_factor import recovery_codes_left, second_factor_verify, two_factor_enabled
from accounts.views.shared import REDIRECT_FIELD_NAME, render_limited, safe_next_url
from common.clientip import client_ip

PENDING_USER_KEY = "two_factor_user"
PENDING_AT_KEY = "two_factor_at"
PENDING_BACKEND_KEY = "two_factor_backend"
# How long the code page waits after a right password before asking for it again.
PENDING_SECONDS = 300


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Email and password login with one generic error and a failure limiter."""
    next_url = safe_next_url(request)
    if request.method == "GET" and request.user.is_authenticated:
        return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))

    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    lockout = None
    if request.method == "POST":
        ip = client_ip(request)
        email = request.POST.get("username", "")[:254]
        lockout = login_lockout_get(ip=ip, email=email)
        if lockout is None:
            if form.is_valid():
                user = form.get_user()
                if two_factor_enabled(user):
                    return _second_factor_ask(request, user=user, next_url=next_url)
                return _sign_in(
                    request, user=user, limiter_email=email, detail="Password", next_url=next_url
                )
            if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
                lockout = login_failure_record(ip=ip, email=email)
                _record_failed_sign_in(request, email=email, detail="Wrong password")
        if lockout is not None:
            # Locked (already, or by this failure): a fresh form and when to come back.
            form = LoginForm(request, initial={"username": email})
    context = {"form": form, "next": next_url}
    return render_limited(request, "accounts/login.html", context, lockout=lockout)


def _sign_in(
    request: HttpRequest,
    *,
    user: User,
    limiter_email: str,
    detail: str,
    next_url: str,
    backend: str | None = None,
) -> HttpResponse:
    """Complete a sign-in: clear the login limiter's count for `limiter_email` (the address
    it counted failures under), start the session, log it, and go on to `next_url`."""
    login_success_record(email=limiter_email)
    auth_login(request, user, backend=backend)
    account_event_record(
        user=user, kind=AccountEvent.Kind.SIGNED_IN, request=request, detail=detail
    )
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _second_factor_ask(request: HttpRequest, *, user: User, next_url: str) -> HttpResponse:
    # The password is right; the session is only signed in after the code.
    request.session[PENDING_USER_KEY] = user.pk
    request.session[PENDING_AT_KEY] = time.time()
    request.session[PENDING_BACKEND_KEY] = user.backend
    target = reverse("accounts:login_two_factor")
    if next_url:
        target += "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
    return HttpResponseRedirect(target)


def _record_failed_sign_in(request: HttpRequest, *, email: str, detail: str) -> None:
    # Only accounts that exist have a log; the lookup is the one the password check made.
    account = User.objects.filter(email__iexact=email.strip()).first() if email.strip() else None
    if account is not None:
        account_event_record(
            user=account, kind=AccountEvent.Kind.SIGN_IN_FAILED, request=request, detail=detail
        )


def _pending_user(request: HttpRequest) -> User | None:
    started = request.session.get(PENDING_AT_KEY)
    if not isinstance(started, int | float) or time.time() - started > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=request.session.get(PENDING_USER_KEY), is_active=True).first()


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponse:
    """The second sign-in step: a code from the authenticator app or a recovery code,
    limited like passwords (per IP and per account)."""
    next_url = safe_next_url(request)
    user = _pending_user(request)
    if user is None:
        messages.info(request, "Log in again: the sign-in took too long or was not started.")
        return redirect("accounts:login")
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    lockout = None
    if request.method == "POST":
        ip = client_ip(request)
        lockout = login_lockout_get(ip=ip, email=user.email)
        if lockout is None and form.is_valid():
            method = second_factor_verify(user=user, code=form.cleaned_data["code"])
            if method is not None:
                response = _sign_in(
                    request,
                    user=user,
                    limiter_email=user.email,
                    detail="Password and recovery code"
                    if method == "recovery"
                    else "Password and authenticator code",
                    next_url=next_url,
                    backend=request.session.get(PENDING_BACKEND_KEY),
                )
                if method == "recovery":
                    messages.warning(
                        request,
                        f"You used a recovery code; {recovery_codes_left(user)} left. "
                        "Make new ones under Security if you are running low.",
                    )
                return response
            form.add_error("code", "That code is not right, or was already used. Try again.")
            lockout = login_failure_record(ip=ip, email=user.email)
            account_event_record(
                user=user,
                kind=AccountEvent.Kind.SIGN_IN_FAILED,
                request=request,
                detail="Right password, wrong two-factor code",
            )
    context = {"form": form, "next": next_url}
    return render_limited(request, "accounts/login_two_factor.html", context, lockout=lockout)


@never_cache
def logout(request: HttpRequest) -> HttpResponse:
    """Log out on POST. Any other method changes nothing and answers 405 with a Log out button."""
    if request.method != "POST":
        response = render(request, "accounts/logout.html", status=HTTPStatus.METHOD_NOT_ALLOWED)
        response["Allow"] = "POST"
        return response
    auth_logout(request)
    messages.info(request, "You have been logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
