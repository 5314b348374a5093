"""The form that adds an owner's webhook endpoint (staff add theirs in the admin)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apitokens.models.webhooks import TOKEN_EVENT_TYPES
from apitokens.webhooks.addresses import URL_MAX_LENGTH, UnsafeWebhookURL, webhook_url_check


class WebhookEndpointForm(forms.Form):
    """The URL, a description, and which token events to send."""

    url = forms.CharField(
        label="Endpoint URL",
        max_length=URL_MAX_LENGTH,
        strip=True,
        help_text="An https:// address on the public internet. QuickBot POSTs each event to it.",
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/quickbot-webhooks", "autocomplete": "off"}
        ),
        error_messages={
            "max_length": f"The URL is too long (at most {URL_MAX_LENGTH} characters)."
        },
    )
    description = forms.CharField(
        label="Description",
        max_length=100,
        required=False,
        help_text="For you, e.g. “Slack alerts”.",
        error_messages={"max_length": "Keep the description under 100 characters."},
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=list(TOKEN_EVENT_TYPES.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one event to send.",
            "invalid_choice": "Choose events from the list.",
        },
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except UnsafeWebhookURL as refusal:
            raise ValidationError(str(refusal), code="unsafe_url") from None
        return url
