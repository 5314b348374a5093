"""`{{ header|user_agent }}`: a client's name for people, the raw header on hover."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from common.user_agents import browser_label, clean_user_agent

register = template.Library()


@register.filter
def user_agent(value: str, missing: str = "—") -> str:
    """The client's name ("Chrome on Android") with the whole header in its tooltip;
    `missing` when none was sent."""
    label = browser_label(value or "")
    if not label:
        return missing
    return format_html(
        '<span class="user-agent" title="{}">{}</span>', clean_user_agent(value), label
    )
