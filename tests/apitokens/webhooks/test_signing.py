import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apitokens.webhooks.signing import webhook_headers, webhook_message_id_new, webhook_secret_new


def test_a_secret_is_whsec_and_32_random_bytes_in_base64():
    secret = webhook_secret_new()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != webhook_secret_new()


def test_headers_verify_with_the_standardwebhooks_library():
    secret, body = webhook_secret_new(), json.dumps({"type": "token.created"})
    headers = webhook_headers(
        secret=secret, message_id=webhook_message_id_new(), body=body, now=timezone.now()
    )
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"type": "token.created"}


def test_a_tampered_body_or_another_secret_is_rejected():
    secret, body = webhook_secret_new(), '{"type":"token.created"}'
    headers = webhook_headers(secret=secret, message_id="msg_1", body=body, now=timezone.now())
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("created", "deleted"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret_new()).verify(body, headers)


def test_a_replayed_signature_outside_the_timestamp_tolerance_is_rejected():
    secret, body = webhook_secret_new(), '{"type":"token.created"}'
    captured = webhook_headers(
        secret=secret, message_id="msg_1", body=body, now=timezone.now() - timedelta(minutes=6)
    )
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, captured)


def test_the_signature_is_the_hmac_of_id_timestamp_and_body():
    import hashlib
    import hmac

    secret, body = webhook_secret_new(), '{"a":1}'
    headers = webhook_headers(secret=secret, message_id="msg_x", body=body, now=timezone.now())
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"msg_x.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


@pytest.mark.django_db
def test_the_api_reference_shows_how_to_verify_a_webhook(client):
    content = client.get("/docs/api/").content.decode()
    assert 'id="webhooks"' in content
    assert "openssl dgst -sha256 -mac HMAC" in content
    assert "webhook.verify(raw_body, headers)" in content
    assert "token.used_from_new_address" in content
