"""The API Reference page (public: script authors read it before they have an account)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apitokens import tokens
from apitokens.api.openapi import ERROR_CATALOGUE


@require_safe
def api_reference(request: HttpRequest) -> HttpResponse:
    """Authentication, endpoints, errors, limits and troubleshooting for script authors."""
    return render(
        request,
        "docs/api.html",
        {
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "site_url": settings.QUICKBOT_SITE_URL.rstrip("/"),
            "errors": [
                {"status": status, "error": error, "when": when, "action": action}
                for status, error, when, action in ERROR_CATALOGUE
            ],
            "hourly_limit": settings.QUICKBOT_API_HOURLY_LIMIT,
            "bad_auth_limit": settings.QUICKBOT_BAD_AUTH_LIMIT,
            "bad_auth_minutes": settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS // 60,
            "token_length": tokens.TOKEN_LENGTH,
            "last_used_minutes": max(1, settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS // 60),
            "retention_days": settings.QUICKBOT_ACTIVITY_RETENTION_DAYS,
            "report_limit": settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT,
            "report_window_minutes": settings.QUICKBOT_CREDENTIAL_REPORT_WINDOW_SECONDS // 60,
        },
    )
