"""The API Tokens page's forms: create, edit name and permissions, regenerate, and the
policy's expiry choice. Forms validate and do not act: the views call the services."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django import forms
from django.utils import dateformat, timezone

from accounts.models import User
from apitokens import expiry
from apitokens.forms.fields import (
    AllowlistModeField,
    IPAllowlistField,
    ScopesField,
    TokenNameField,
    _TokenNameUniqueMixin,
    name_examples_for,
    report_only_policy_error,
    too_many_tokens_error,
)
from apitokens.models import SCOPE_READ, TokenPolicy
from apitokens.services.tokens import api_token_limit


class TokenCreateForm(_TokenNameUniqueMixin, forms.Form):
    """The "Create Token" form: name, expiry, permissions and IP allowlist.

    After validation, `cleaned_data` holds `expires_at` and `lifetime_days` ready for
    `services.api_token_create`.
    """

    name = TokenNameField()
    expiry = forms.ChoiceField(
        label="Expiration",
        choices=expiry.EXPIRY_CHOICES,
        error_messages={
            "required": "Choose when the token expires.",
            "invalid_choice": "Choose one of the offered expiry options.",
        },
    )
    custom_expiry_date = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )
    scopes = ScopesField(initial=[SCOPE_READ])
    allowed_ips = IPAllowlistField()
    allowlist_report_only = AllowlistModeField()

    def __init__(
        self,
        *args,
        user: User,
        now: datetime | None = None,
        current_ip: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].suggest(name_examples_for(user))
        self.fields["allowed_ips"].set_current_ip(current_ip)
        self.now = now or timezone.now()
        self.policy = TokenPolicy.current()
        self.max_lifetime_days = self.policy.max_lifetime_days
        self.fields["expiry"].choices = expiry.available_expiry_choices(
            self.max_lifetime_days, expiry_required=self.policy.expiry_required
        )
        self.fields["expiry"].initial = expiry.default_expiry_choice(self.max_lifetime_days)
        self.fields["expiry"].widget.attrs["data-expiry-select"] = ""
        if self.policy.allowlist_required:
            self.fields["allowed_ips"].required = True
        today = timezone.localdate(self.now)
        latest = self.latest_custom_date
        self.fields["custom_expiry_date"].widget.attrs.update(
            {"min": (today + timedelta(days=1)).isoformat(), "max": latest.isoformat()}
        )
        self.fields["custom_expiry_date"].help_text = (
            f"Used when “Custom date” is chosen. The token works until the end of that day "
            f"(latest {dateformat.format(latest, 'j M Y')})."
        )

    @property
    def allows_no_expiration(self) -> bool:
        return self.policy.allows_no_expiration

    @property
    def policy_notes(self) -> list[str]:
        """Why some choices are missing: the staff token policy, in the user's words."""
        notes = []
        if self.max_lifetime_days:
            notes.append(
                f"tokens expire within {self.max_lifetime_days} days, so longer expiries "
                "and “No expiration” are not offered"
            )
        elif self.policy.expiry_required:
            notes.append("every token must expire, so “No expiration” is not offered")
        if self.policy.allowlist_required:
            notes.append("new tokens need an IP allowlist, enforced (not report only)")
        return notes

    @property
    def latest_custom_date(self) -> date:
        days = expiry.CUSTOM_DATE_MAX_DAYS
        if self.max_lifetime_days:
            days = min(days, self.max_lifetime_days)
        return timezone.localdate(self.now) + timedelta(days=days)

    def clean(self) -> dict:
        cleaned_data = super().clean()
        _check_report_only(self, self.policy)
        # A hint before the rest is checked; api_token_create enforces the cap under its lock.
        limit = api_token_limit()
        if self.user.api_tokens.active().count() >= limit:
            raise too_many_tokens_error(limit)
        choice = cleaned_data.get("expiry")
        if choice is None:
            return cleaned_data
        if choice == expiry.EXPIRY_CUSTOM and self.has_error("custom_expiry_date"):
            return cleaned_data  # unreadable date: its own error says so
        try:
            expires_at, lifetime_days = expiry.expiry_from_choice(
                choice,
                cleaned_data.get("custom_expiry_date"),
                self.now,
                self.max_lifetime_days,
                expiry_required=self.policy.expiry_required,
            )
        except ValueError as error:
            field = "custom_expiry_date" if choice == expiry.EXPIRY_CUSTOM else "expiry"
            self.add_error(field, forms.ValidationError(str(error), code="invalid_expiry"))
        else:
            cleaned_data["expires_at"] = expires_at
            cleaned_data["lifetime_days"] = lifetime_days
        return cleaned_data


class TokenEditForm(_TokenNameUniqueMixin, forms.Form):
    """Rename a token, change its permissions or IP allowlist; the value stays the same."""

    name = TokenNameField()
    scopes = ScopesField(help_text="Read is enough for scripts that only fetch data.")
    allowed_ips = IPAllowlistField()
    allowlist_report_only = AllowlistModeField()

    def __init__(
        self, *args, user: User, instance_pk: int, current_ip: str | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance_pk = instance_pk
        self.fields["name"].suggest(name_examples_for(user))
        self.fields["allowed_ips"].set_current_ip(current_ip)

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if cleaned_data.get("allowlist_report_only"):
            _check_report_only(self, TokenPolicy.current())
        return cleaned_data


def _check_report_only(form: forms.Form, policy: TokenPolicy) -> None:
    """A report-only list does not meet a policy that requires an allowlist (it refuses
    nothing): say so on the mode's choice. An empty list has no mode to refuse."""
    data = form.cleaned_data
    if policy.allowlist_required and data.get("allowlist_report_only") and data.get("allowed_ips"):
        form.add_error("allowlist_report_only", report_only_policy_error())


class TokenRegenerateForm(forms.Form):
    """Choose how long the current value keeps working after a regenerate.

    After validation, `cleaned_data` holds `overlap` (a timedelta, the hard end) and
    `until_quiet`, ready for `services.api_token_regenerate`.
    """

    overlap = forms.ChoiceField(
        label="When should the current value stop working?",
        choices=expiry.OVERLAP_CHOICES,
        initial=expiry.DEFAULT_OVERLAP_CHOICE,
        widget=forms.RadioSelect,
        help_text=(
            "An overlap gives you time to update your applications. “Until its traffic "
            "stops” keeps the current value until 24 hours pass without a request using it, "
            "7 days at most. If the token may have leaked, choose Immediately."
        ),
        error_messages={
            "required": "Choose when the current value should stop working.",
            "invalid_choice": "Choose when the current value should stop working.",
        },
    )

    def clean_overlap(self) -> timedelta:
        choice = self.cleaned_data["overlap"]
        try:
            overlap = expiry.overlap_from_choice(choice)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid_overlap") from None
        self.cleaned_data["until_quiet"] = choice == expiry.OVERLAP_UNTIL_QUIET
        return overlap


class PolicyExpiryForm(forms.Form):
    """Staff: the date tokens that break the token policy stop working (end of that day)."""

    expires_on = forms.DateField(
        label="Expire on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The tokens stop working at the end of this day (site time). Tokens that "
        "already expire earlier are left alone.",
        error_messages={
            "required": "Choose the date the tokens should expire.",
            "invalid": "Enter the date as YYYY-MM-DD.",
        },
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate(now or timezone.now())
        self.today = today
        self.fields["expires_on"].initial = today + timedelta(days=7)
        self.fields["expires_on"].widget.attrs.update(
            {
                "min": (today + timedelta(days=1)).isoformat(),
                "max": (today + timedelta(days=expiry.CUSTOM_DATE_MAX_DAYS)).isoformat(),
            }
        )

    def clean_expires_on(self) -> datetime:
        day = self.cleaned_data["expires_on"]
        if day <= self.today:
            raise forms.ValidationError(
                "Choose a date after today, so owners have time to replace their tokens.",
                code="too_soon",
            )
        if day > self.today + timedelta(days=expiry.CUSTOM_DATE_MAX_DAYS):
            raise forms.ValidationError("Choose a date within a year from today.", code="too_late")
        return expiry.end_of_day(day)
