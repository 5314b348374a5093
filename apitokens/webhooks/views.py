"""Account settings > Webhooks: an owner's endpoints for their own tokens' events (list,
add with the signing secret shown once, delete) and their recent deliveries."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.sudo import sudo_required
from apitokens.models import WebhookDelivery, WebhookEndpoint
from apitokens.services.audit import ClientInfo
from apitokens.views.base import HtmxHttpRequest
from apitokens.webhooks.addresses import UnsafeWebhookURL
from apitokens.webhooks.forms import WebhookEndpointForm
from apitokens.webhooks.services import (
    ENDPOINTS_PER_OWNER,
    WebhookLimitReached,
    webhook_endpoint_create,
    webhook_endpoint_delete,
)

RECENT_DELIVERIES = 20


def owned_endpoint(request: HtmxHttpRequest, endpoint_id: int) -> WebhookEndpoint:
    """The signed-in user's endpoint with this id, else 404 (another account's id too)."""
    return get_object_or_404(request.user.webhook_endpoints.all(), pk=endpoint_id)


def _page(request: HtmxHttpRequest, form: WebhookEndpointForm, *, status: int = 200):
    endpoints = list(request.user.webhook_endpoints.order_by("-created_at", "-id"))
    deliveries = (
        WebhookDelivery.objects.filter(endpoint__owner=request.user)
        .select_related("endpoint")
        .order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    )
    context = {
        "form": form,
        "endpoints": endpoints,
        "deliveries": deliveries,
        "at_limit": len(endpoints) >= ENDPOINTS_PER_OWNER,
        "limit": ENDPOINTS_PER_OWNER,
    }
    return render(request, "apitokens/webhooks.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def webhook_list(request: HtmxHttpRequest) -> HttpResponse:
    """The account's endpoints, the form to add one, the recent deliveries."""
    return _page(request, WebhookEndpointForm())


@never_cache
@login_required
@require_http_methods(["POST"])
@sudo_required
def webhook_add(request: HtmxHttpRequest) -> HttpResponse:
    """Add an endpoint and show its signing secret once; errors re-render the page."""
    form = WebhookEndpointForm(request.POST)
    if not request.user.email_verified:
        form.add_error(None, "Confirm your email address before adding a webhook.")
    elif form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                owner=request.user,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                actor=request.user,
                client=ClientInfo.from_request(request),
            )
        except WebhookLimitReached:
            form.add_error(None, f"You can have at most {ENDPOINTS_PER_OWNER} webhooks.")
        except UnsafeWebhookURL as refusal:
            form.add_error("url", str(refusal))
        else:
            context = {"endpoint": endpoint, "secret": secret}
            return render(request, "apitokens/webhook_created.html", context)
    return _page(request, form, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@sudo_required
def webhook_delete(request: HtmxHttpRequest, endpoint_id: int) -> HttpResponse:
    """Confirm, then delete an endpoint and its delivery log."""
    endpoint = owned_endpoint(request, endpoint_id)
    if request.method == "POST":
        if webhook_endpoint_delete(
            endpoint=endpoint, actor=request.user, client=ClientInfo.from_request(request)
        ):
            messages.success(request, "Webhook deleted.")
        else:
            messages.info(request, "That webhook was already deleted.")
        return redirect("webhooks:list")
    return render(request, "apitokens/webhook_delete.html", {"endpoint": endpoint})
