"""Account settings pages: Profile, and Security (password change, signing out other
sessions, two-factor set-up, recovery codes, turning two-factor off)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import PasswordChangeForm, ProfileForm, SecondFactorForm
from accounts.models import AccountEvent, TwoFactor, User
from accounts.services import account_event_record, sessions_end_others
from accounts.sudo import sudo_required
from accounts.two_factor import (
    qr_code_svg,
    recovery_codes_issue,
    recovery_codes_left,
    two_factor_disable,
    two_factor_enable,
    two_factor_enabled,
    two_factor_setup_begin,
)

SECURITY_LOG_ROWS = 50
TWO_FACTOR_NEEDS_CONFIRMED_EMAIL = (
    "Confirm your email address first: two-factor authentication can be set up once the "
    "address is confirmed. Use the link we emailed you, or send a new one."
)


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Account settings > Profile: change the display name."""
    # A separate instance, so a rejected value never reaches request.user (the header).
    account = User.objects.get(pk=request.user.pk)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=account)
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, "Your profile has been saved.")
        return redirect("accounts:settings")
    context = {
        "form": form,
        "account": account,
        "default_hourly_limit": settings.QUICKBOT_API_HOURLY_LIMIT,
    }
    return render(request, "accounts/profile.html", context)


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """Account settings > Security: change the password (other sessions are signed out)."""
    form = PasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        account_event_record(user=user, kind=AccountEvent.Kind.PASSWORD_CHANGED, request=request)
        messages.success(
            request,
            "Your password has been changed. Other devices where you were logged in "
            "have been logged out.",
        )
        return redirect("accounts:security")
    context = {
        "form": form,
        "two_factor_on": two_factor_enabled(request.user),
        "recovery_codes_left": recovery_codes_left(request.user),
        "events": list(request.user.account_events.all()[:SECURITY_LOG_ROWS]),
    }
    return render(request, "accounts/security.html", context)


@login_required
@never_cache
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    """End every other session of the account; this one stays signed in."""
    sessions_end_others(request=request)
    messages.success(request, "You are signed out everywhere else.")
    return redirect("accounts:security")


def confirmed_email_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a two-factor action to an account whose address is not confirmed (before any
    sudo prompt): until then the account is only a claim its address's owner may take."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.email_verified:
            messages.error(request, TWO_FACTOR_NEEDS_CONFIRMED_EMAIL)
            return redirect("accounts:security")
        return view(request, *args, **kwargs)

    return wrapper


def _show_recovery_codes(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    # never_cache on the calling views: no-store, like a token value.
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "first": first})


@sensitive_post_parameters("code")
@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@confirmed_email_required
@sudo_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator: QR code and key, then a first code turns it on and shows
    the recovery codes once."""
    if two_factor_enabled(request.user):
        messages.info(request, "Two-factor authentication is already on.")
        return redirect("accounts:security")
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            codes = two_factor_enable(user=request.user, code=form.cleaned_data["code"])
            if codes is not None:
                account_event_record(
                    user=request.user, kind=AccountEvent.Kind.TWO_FACTOR_ON, request=request
                )
                messages.success(request, "Two-factor authentication is on.")
                return _show_recovery_codes(request, codes, first=True)
            form.add_error("code", "That code is not right. Check the app's clock and try again.")
        device = TwoFactor.objects.filter(user=request.user).first()
        if device is None:
            return redirect("accounts:two_factor_setup")
    else:
        device = two_factor_setup_begin(user=request.user)
    context = {"form": form, "secret": device.secret, "qr_svg": qr_code_svg(device)}
    return render(request, "accounts/two_factor_setup.html", context)


@login_required
@never_cache
@require_POST
@confirmed_email_required
@sudo_required
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    """Replace the recovery codes (the old ones stop working) and show the new ones once."""
    if not two_factor_enabled(request.user):
        return redirect("accounts:security")
    codes = recovery_codes_issue(user=request.user)
    account_event_record(user=request.user, kind=AccountEvent.Kind.RECOVERY_CODES, request=request)
    return _show_recovery_codes(request, codes, first=False)


@login_required
@never_cache
@require_POST
@sudo_required
def two_factor_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor authentication off (sudo: the password was entered recently)."""
    if two_factor_disable(user=request.user):
        account_event_record(
            user=request.user, kind=AccountEvent.Kind.TWO_FACTOR_OFF, request=request
        )
        messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:security")
