"""Webhook endpoints and their delivery log. Staff add an endpoint here (its signing
secret is shown once, never again); every change goes through the URL check, and the
delivery log is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apitokens.models import WebhookDelivery, WebhookEndpoint
from apitokens.models.webhooks import AUDIT_EVENT_TYPES, EVENT_TYPES
from apitokens.services.audit import ClientInfo
from apitokens.webhooks.addresses import UnsafeWebhookURL, webhook_url_check
from apitokens.webhooks.events import subscription_memo
from apitokens.webhooks.services import webhook_endpoint_create, webhook_endpoint_delete
from common.admin import ReadOnlyAdminMixin


class WebhookEndpointAdminForm(forms.ModelForm):
    """The URL checked as the owner's form checks it; event types from the list, the audit
    stream for staff endpoints only."""

    event_types = forms.MultipleChoiceField(
        choices=list(EVENT_TYPES.items()), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "owner", "event_types", "enabled")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["event_types"] = self.instance.event_type_list

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except UnsafeWebhookURL as refusal:
            raise ValidationError(str(refusal), code="unsafe_url") from None
        return url

    def clean(self) -> dict:
        cleaned = super().clean()
        audit = set(cleaned.get("event_types") or ()) & set(AUDIT_EVENT_TYPES)
        if audit and cleaned.get("owner") is not None:
            self.add_error(
                "event_types", "Only staff endpoints (no owner) may stream the security log."
            )
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints of owners and staff. The secret is never displayed after it is created."""

    form = WebhookEndpointAdminForm
    list_display = ("__str__", "owner", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    list_select_related = ("owner",)
    search_fields = ("url", "description", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = (
        "created_at",
        "created_by",
        "failing_since",
        "disabled_at",
        "disabled_reason",
    )

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        obj.event_types = " ".join(form.cleaned_data["event_types"])
        if change:
            if obj.enabled and "enabled" in form.changed_data:
                obj.failing_since = obj.disabled_at = None
                obj.disabled_reason = ""
            obj.save()
            subscription_memo.reset()
            return
        endpoint, secret = webhook_endpoint_create(
            owner=obj.owner,
            url=obj.url,
            description=obj.description,
            event_types=form.cleaned_data["event_types"],
            actor=request.user,
            client=ClientInfo.from_request(request),
        )
        if not obj.enabled:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
        obj.pk, obj.secret = endpoint.pk, secret
        request._webhook_secret = secret  # shown by response_add, once

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None):
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook endpoint added",
            "endpoint": obj,
            "secret": secret,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "admin/apitokens/webhook_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(
            endpoint=obj, actor=request.user, client=ClientInfo.from_request(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for endpoint in queryset.select_related("owner"):
            self.delete_model(request, endpoint)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every delivery with its last attempt: status code, time, attempts, next try, error."""

    list_display = (
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "status_code",
        "response_ms",
        "attempts",
        "next_attempt_at",
        "error",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("endpoint",)
    raw_id_fields = ("endpoint",)
    search_fields = ("message_id",)
