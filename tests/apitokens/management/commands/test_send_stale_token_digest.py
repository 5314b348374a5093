"""`manage.py send_stale_token_digest`
(apitokens/management/commands/send_stale_token_digest.py)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_digest_command_refuses_a_bad_now():
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("send_stale_token_digest", "--now", "yesterday")
