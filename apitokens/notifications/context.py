"""What every email to a token's owner shows alike: the greeting, times in the site's
time zone, and the portal's links."""

from __future__ import annotations

from datetime import datetime

from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone

from common import mail


def greeting_name(owner) -> str:
    """The name an email to `owner` greets with: their display name once they have shown
    the address is theirs (whoever signed up with it chose it otherwise), else none."""
    return mail.mail_text(owner.display_name) if owner.email_verified else ""


def format_time(moment: datetime) -> str:
    """A moment as the emails write it: "5 Mar 2025, 14:30 CET" (site time zone)."""
    return dateformat.format(timezone.localtime(moment), "j M Y, H:i T")


def tokens_url() -> str:
    """The API Tokens page, absolute; a token's own page is this plus "<public id>/"."""
    return mail.site_url("/account/tokens/")


def security_url() -> str:
    """The account's security page, absolute."""
    try:
        path = reverse("accounts:security")
    except NoReverseMatch:
        path = "/account/security/"
    return mail.site_url(path)
