"""The email sent when a webhook endpoint is disabled after three days of failures."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.mail import EmailMultiAlternatives

from apitokens.models import WebhookEndpoint
from apitokens.notifications.context import format_time, greeting_name
from common import mail

logger = logging.getLogger(__name__)


def endpoint_disabled_recipient(endpoint: WebhookEndpoint) -> str | None:
    """Who is told: the endpoint's owner, or the staff member who added a staff endpoint."""
    person = endpoint.owner or endpoint.created_by
    return person.email if person is not None and person.email else None


def endpoint_disabled_notify(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Email the endpoint's owner (or its staff author) that it was disabled; after commit."""
    to = endpoint_disabled_recipient(endpoint)
    if to is None:
        logger.warning("Webhook endpoint %s was disabled and has no one to tell", endpoint.pk)
        return
    person = endpoint.owner or endpoint.created_by
    context = {
        "name": greeting_name(person),
        "url": mail.mail_text(endpoint.url, max_length=200),
        "since": format_time(endpoint.failing_since or now),
        "webhooks_url": mail.site_url(
            "/account/webhooks/" if endpoint.owner_id else "/admin/apitokens/webhookendpoint/"
        ),
        "site_url": mail.site_url(),
    }

    def build() -> EmailMultiAlternatives:
        return mail.templated_message(
            to=to,
            subject="[QuickBot] Webhook endpoint disabled after 3 days of failures",
            template="apitokens/email/webhook_disabled.txt",
            context=context,
        )

    mail.mail_dispatch("webhook_disabled", build)
