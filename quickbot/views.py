"""Site-wide views: health check and the CSRF failure page."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apitokens.api.errors import api_error
from common.request_id import request_id_current

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and the cache) answer, 503 otherwise. No auth, no session."""
    checks = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        logger.exception("Health check: database unreachable")
        checks["database"] = "unavailable"
    try:
        cache.set("healthz", "1", 5)
        if cache.get("healthz") != "1":
            raise RuntimeError("cache read-back failed")
    except Exception:  # noqa: BLE001
        logger.exception("Health check: cache unreachable")
        checks["cache"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Explain a missing or stale CSRF token in words a person can act on."""
    return render(request, "403_csrf.html", {"reason": reason}, status=HTTPStatus.FORBIDDEN)


# --- Error handlers: JSON under /api/, the usual pages elsewhere ------------------------------
# Errors raised before an API view runs (too many query parameters, a bad Host header, a
# crash in a middleware) reach these handlers, not the API's own error responses.

API_PATH_PREFIX = "/api/"


def _is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400: the API's JSON shape under /api/, Django's page elsewhere."""
    if _is_api_request(request):
        return api_error(
            HTTPStatus.BAD_REQUEST,
            "invalid_request",
            "The request could not be read (too many parameters, too large, or malformed).",
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the API's JSON shape under /api/, Django's page elsewhere."""
    if _is_api_request(request):
        return api_error(HTTPStatus.FORBIDDEN, "forbidden", "This request is not allowed.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the API's JSON shape under /api/ (e.g. Http404 from an API view), the page elsewhere."""
    if _is_api_request(request):
        return api_error(HTTPStatus.NOT_FOUND, "not_found", "There is nothing at this address.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: the API's JSON shape under /api/, templates/500.html elsewhere."""
    if _is_api_request(request):
        return api_error(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side. Try again in a moment.",
        )
    # Django's own handler renders the page without a context; this one adds the request's ID.
    html = loader.get_template(defaults.ERROR_500_TEMPLATE_NAME).render(
        {"request_id": request_id_current()}
    )
    return HttpResponseServerError(html)
