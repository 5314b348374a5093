"""Account pages: sign up, log in and out, Account settings (Profile, Security), password reset."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    SecondFactorForm,
    SetPasswordForm,
    SignupForm,
)
from accounts.login_limiter import (
    login_failure_record,
    login_lockout_get,
    login_success_record,
    password_reset_email_allowed,
    signup_attempt_record,
)
from accounts.models import AccountEvent, TwoFactor, User
from accounts.services import (
    account_claim,
    account_event_record,
    account_signup,
    email_verification_send,
    password_reset_request,
    seconds_in_words,
    sessions_end_others,
)
from accounts.sudo import sudo_required
from accounts.tokens import email_verification_token_generator
from accounts.two_factor import (
    qr_code_svg,
    recovery_codes_issue,
    recovery_codes_left,
    second_factor_verify,
    two_factor_disable,
    two_factor_enable,
    two_factor_enabled,
    two_factor_setup_begin,
)
from common.clientip import client_ip

REDIRECT_FIELD_NAME = "next"
RESET_EMAIL_SESSION_KEY = "password_reset_email"


def safe_next_url(request: HttpRequest) -> str:
    """The `next` URL from POST or GET if it stays on this site, else an empty string."""
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def reset_link_lifetime() -> str:
    """PASSWORD_RESET_TIMEOUT in words: "3 days", "1 hour"."""
    return seconds_in_words(settings.PASSWORD_RESET_TIMEOUT)


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
    response = render(
        request,
        "accounts/signup.html",
        {"form": form, "lockout": lockout},
        status=HTTPStatus.TOO_MANY_REQUESTS if lockout else HTTPStatus.OK,
    )
    if lockout:
        response["Retry-After"] = str(lockout.retry_after_seconds)
    return response


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
        if not _claim(request, user=user, password=form.cleaned_data["new_password1"]):
            return render(
                request, "accounts/verify_email_invalid.html", status=HTTPStatus.BAD_REQUEST
            )
        messages.success(
            request, f"Thank you: {user.email} is confirmed. Log in with your new password."
        )
        return redirect("accounts:login")
    return render(request, "accounts/claim_account.html", {"form": form, "email": user.email})


def _claim(request: HttpRequest, *, user: User, password: str) -> bool:
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
                    # The password is right; the session is only signed in after the code.
                    request.session[PENDING_USER_KEY] = user.pk
                    request.session[PENDING_AT_KEY] = time.time()
                    request.session[PENDING_BACKEND_KEY] = user.backend
                    target = reverse("accounts:login_two_factor")
                    if next_url:
                        target += "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
                    return HttpResponseRedirect(target)
                login_success_record(email=email)
                auth_login(request, user)
                account_event_record(
                    user=user, kind=AccountEvent.Kind.SIGNED_IN, request=request, detail="Password"
                )
                return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
            if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
                lockout = login_failure_record(ip=ip, email=email)
                _record_failed_sign_in(request, email=email, detail="Wrong password")
        if lockout is not None:
            # Locked (already, or by this failure): a fresh form and when to come back.
            form = LoginForm(request, initial={"username": email})

    response = render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_url, "lockout": lockout},
        status=HTTPStatus.TOO_MANY_REQUESTS if lockout else HTTPStatus.OK,
    )
    if lockout:
        response["Retry-After"] = str(lockout.retry_after_seconds)
    return response


def _record_failed_sign_in(request: HttpRequest, *, email: str, detail: str) -> None:
    # Only accounts that exist have a log; the lookup is the one the password check made.
    account = User.objects.filter(email__iexact=email.strip()).first() if email.strip() else None
    if account is not None:
        account_event_record(
            user=account, kind=AccountEvent.Kind.SIGN_IN_FAILED, request=request, detail=detail
        )


PENDING_USER_KEY = "two_factor_user"
PENDING_AT_KEY = "two_factor_at"
PENDING_BACKEND_KEY = "two_factor_backend"
# How long the code page waits after a right password before asking for it again.
PENDING_SECONDS = 300


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
                backend = request.session.get(PENDING_BACKEND_KEY)
                login_success_record(email=user.email)
                auth_login(request, user, backend=backend)
                account_event_record(
                    user=user,
                    kind=AccountEvent.Kind.SIGNED_IN,
                    request=request,
                    detail="Password and recovery code"
                    if method == "recovery"
                    else "Password and authenticator code",
                )
                if method == "recovery":
                    messages.warning(
                        request,
                        f"You used a recovery code; {recovery_codes_left(user)} left. "
                        "Make new ones under Security if you are running low.",
                    )
                return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
            form.add_error("code", "That code is not right, or was already used. Try again.")
            lockout = login_failure_record(ip=ip, email=user.email)
            account_event_record(
                user=user,
                kind=AccountEvent.Kind.SIGN_IN_FAILED,
                request=request,
                detail="Right password, wrong two-factor code",
            )
    response = render(
        request,
        "accounts/login_two_factor.html",
        {"form": form, "next": next_url, "lockout": lockout},
        status=HTTPStatus.TOO_MANY_REQUESTS if lockout else HTTPStatus.OK,
    )
    if lockout:
        response["Retry-After"] = str(lockout.retry_after_seconds)
    return response


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


SECURITY_LOG_ROWS = 50


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


TWO_FACTOR_NEEDS_CONFIRMED_EMAIL = (
    "Confirm your email address first: two-factor authentication can be set up once the "
    "address is confirmed. Use the link we emailed you, or send a new one."
)


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


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The answer is the same whether or not the account exists."""

    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset_email.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        self.request.session[RESET_EMAIL_SESSION_KEY] = email
        # Over the limit: the same answer as a sent email, nothing tells the two apart.
        if password_reset_email_allowed(email=email):
            password_reset_request(email=email)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    """Check your email: the same page whether or not the account exists."""

    template_name = "accounts/password_reset_done.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["reset_email"] = self.request.session.get(RESET_EMAIL_SESSION_KEY, "")
        context["link_lifetime"] = reset_link_lifetime()
        return context


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choose a new password from the emailed link; clears any login lock on the account.
    For an unconfirmed address the link is a take-over, like a confirmation link."""

    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["link_lifetime"] = reset_link_lifetime()
        context["claim"] = self.validlink and not self.user.email_verified
        return context

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        password = form.cleaned_data["new_password1"]
        # The link came by email: for an unconfirmed address that makes it a take-over.
        if not self.user.email_verified and _claim(self.request, user=self.user, password=password):
            self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
            return HttpResponseRedirect(self.get_success_url())
        response = super().form_valid(form)
        login_success_record(email=self.user.email)
        account_event_record(
            user=self.user, kind=AccountEvent.Kind.PASSWORD_RESET, request=self.request
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
