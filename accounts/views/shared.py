"""What several account pages share: the safe `next` URL and the answer of a form that a
limiter has paused (429 with Retry-After)."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.login_limiter import Lockout

REDIRECT_FIELD_NAME = "next"


def safe_next_url(request: HttpRequest) -> str:
    """The `next` URL from POST or GET if it stays on this site, else an empty string."""
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def render_limited(
    request: HttpRequest, template: str, context: dict, *, lockout: Lockout | None
) -> HttpResponse:
    """Render a limited form's page: 200, or 429 with Retry-After while `lockout` holds."""
    context = {**context, "lockout": lockout}
    response = render(
        request,
        template,
        context,
        status=HTTPStatus.TOO_MANY_REQUESTS if lockout else HTTPStatus.OK,
    )
    if lockout:
        response["Retry-After"] = str(lockout.retry_after_seconds)
    return response
