"""Standard Webhooks signatures: an endpoint's secret (`whsec_` and base64) and the three
headers of a delivery, `webhook-id`, `webhook-timestamp` and `webhook-signature`
(`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`), made by the `standardwebhooks`
library so a receiver can verify them with the same library."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MESSAGE_ID_PREFIX = "msg_"


def webhook_secret_new() -> str:
    """A new signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def webhook_message_id_new() -> str:
    """A new `webhook-id`: unique per event and endpoint, the same on every retry."""
    return MESSAGE_ID_PREFIX + secrets.token_urlsafe(18)


def webhook_headers(*, secret: str, message_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt to deliver `body`, signed at `now`."""
    moment = now.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }
