"""Password reset pages: ask for a link, "check your email", choose a new password from the
link (a take-over for an unconfirmed address), done."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from accounts.forms import PasswordResetForm, SetPasswordForm
from accounts.login_limiter import login_success_record, password_reset_email_allowed
from accounts.models import AccountEvent
from accounts.services import account_event_record, password_reset_request, seconds_in_words
from accounts.views.signup import claim_from_emailed_link

RESET_EMAIL_SESSION_KEY = "password_reset_email"


def reset_link_lifetime() -> str:
    """PASSWORD_RESET_TIMEOUT in words: "3 days", "1 hour"."""
    return seconds_in_words(settings.PASSWORD_RESET_TIMEOUT)


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
        if not self.user.email_verified and claim_from_emailed_link(
            self.request, user=self.user, password=password
        ):
            self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
            return HttpResponseRedirect(self.get_success_url())
        response = super().form_valid(form)
        login_success_record(email=self.user.email)
        account_event_record(
            user=self.user, kind=AccountEvent.Kind.PASSWORD_RESET, request=self.request
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    """Your password is set: the link to log in."""

    template_name = "accounts/password_reset_complete.html"
