"""Sign-up pages: the form, "check your email", the emailed confirmation link (where the
address's reader sets the password and takes the account), and sending a new link."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.forms import SetPasswordForm, SignupForm
from accounts.login_limiter import login_success_record, signup_attempt_record
from accounts.models import User
from accounts.services import (
    account_claim,
    account_signup,
    email_verification_send,
    seconds_in_words,
)
from accounts.tokens import email_verification_token_generator
from accounts.views.shared import render_limited, safe_next_url
from common.clientip import client_ip

SIGNUP_EMAIL_SESSION_KEY = "signup_email"


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up; a valid form always ends on "check your email", taken address or not."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST if request.method == "POST" else None)
    lockout = None
    if request.method == "POST":
        lockout = signup_attempt_record(ip=client_ip(request))
        if lockout is None and form.is_valid():
            account_signup(
                email=form.cleaned_data["email"],
                display_name=form.cleaned_data["display_name"],
                password=form.cleaned_data["password1"],
            )
            request.session[SIGNUP_EMAIL_SESSION_KEY] = form.cleaned_data["email"]
            return redirect("accounts:signup_done")
        if lockout is not None:
            form = SignupForm(initial={"email": request.POST.get("email", "")[:254]})
    return render_limited(request, "accounts/signup.html", {"form": form}, lockout=lockout)


@never_cache
@require_safe
def signup_done(request: HttpRequest) -> HttpResponse:
    """Check your email: the same page whether the address was new or already had an account."""
    context = {
        "signup_email": request.session.get(SIGNUP_EMAIL_SESSION_KEY, ""),
        "link_lifetime": seconds_in_words(settings.QUICKBOT_EMAIL_VERIFICATION_SECONDS),
    }
    return render(request, "accounts/signup_done.html", context)


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Open an emailed confirmation link: whoever reads the address's mail takes the account
    fresh, choosing its password here (see `account_claim`). A used, expired or damaged
    link says so."""
    user = _user_from_uid(uidb64)
    if user is None or not email_verification_token_generator.check_token(user, token):
        return render(request, "accounts/verify_email_invalid.html", status=HTTPStatus.BAD_REQUEST)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        if not claim_from_emailed_link(
            request, user=user, password=form.cleaned_data["new_password1"]
        ):
            return render(
                request, "accounts/verify_email_invalid.html", status=HTTPStatus.BAD_REQUEST
            )
        messages.success(
            request, f"Thank you: {user.email} is confirmed. Log in with your new password."
        )
        return redirect("accounts:login")
    return render(request, "accounts/claim_account.html", {"form": form, "email": user.email})


def claim_from_emailed_link(request: HttpRequest, *, user: User, password: str) -> bool:
    """Take over an unconfirmed account from a link that came by email (a confirmation or a
    password reset link); clears its login lock. False if the address was confirmed meanwhile."""
    if not account_claim(user=user, password=password, request=request):
        return False
    login_success_record(email=user.email)
    if request.user.is_authenticated and request.user.pk == user.pk:
        # This browser's session ended with all the others.
        auth_logout(request)
    return True


@login_required
@never_cache
@require_POST
def verification_resend(request: HttpRequest) -> HttpResponse:
    """Send the signed-in account a new verification link (3 an hour at most)."""
    next_url = safe_next_url(request) or resolve_url(settings.LOGIN_REDIRECT_URL)
    if request.user.email_verified:
        messages.info(request, "Your email address is already confirmed.")
    elif email_verification_send(user=request.user):
        messages.success(
            request, f"We sent a new confirmation link to {request.user.email}. Check your email."
        )
    else:
        messages.error(
            request,
            "We already sent several links in the last hour. Use the newest one, or try "
            "again later.",
        )
    return HttpResponseRedirect(next_url)


def _user_from_uid(uidb64: str) -> User | None:
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk, is_active=True).first()
