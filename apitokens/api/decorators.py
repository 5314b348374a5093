"""`@token_required`: protect any function view with a bearer token (never a session)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from http import HTTPStatus

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from apitokens.api.errors import api_error, bearer_challenge
from apitokens.api.middleware import TOKEN_OPTIONAL, TOKEN_REQUIRED, VIEW_MARKER
from apitokens.models import SCOPE_READ, SCOPE_WRITE
from apitokens.models.tokens import SAFE_METHODS


def required_scopes(method: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Safe methods need `read`, unsafe ones `write`, plus whatever the view demands."""
    base = SCOPE_READ if method in SAFE_METHODS else SCOPE_WRITE
    return (base, *(scope for scope in extra if scope != base))


def token_required(
    view: Callable[..., HttpResponse] | None = None, *, scopes: Iterable[str] = ()
) -> Callable:
    """Mark a view as an API view: bearer token only, CSRF-exempt, scope-checked.

    Use as `@token_required` or `@token_required(scopes=["write"])`. Needs
    `apitokens.api.middleware.ApiTokenMiddleware`, which authenticates before the view runs.
    """
    extra = tuple(scopes)

    def decorate(view_func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            call = request.__dict__.get("api_call")
            if call is None:
                raise ImproperlyConfigured(
                    "@token_required needs apitokens.api.middleware.ApiTokenMiddleware "
                    "in MIDDLEWARE."
                )
            token = call.token
            if not call.ok:
                # Only reachable when the cache-down fail-open path let an
                # unauthenticated request through: it never is, but stay closed.
                return api_error(HTTPStatus.UNAUTHORIZED, "missing_token", "Authentication needed.")
            granted = token.scopes.split()
            needed = required_scopes(request.method or "GET", extra)
            missing = [scope for scope in needed if scope not in granted]
            if missing:
                call.accepted_permissions = needed
                needed = " ".join(missing)
                description = (
                    f"This token lacks the '{needed}' permission. Edit the token's "
                    "permissions in Account settings > API Tokens."
                )
                return api_error(
                    HTTPStatus.FORBIDDEN,
                    "insufficient_scope",
                    description,
                    challenge=bearer_challenge("insufficient_scope", description, scope=needed),
                )
            return view_func(request, *args, **kwargs)

        setattr(wrapper, VIEW_MARKER, TOKEN_REQUIRED)
        wrapper.csrf_exempt = True
        wrapper.token_scopes = extra
        return wrapper

    if view is not None:
        return decorate(view)
    return decorate


def token_optional(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view that answers with or without a token (the API's 404): a request that
    sends one is authenticated, counted and recorded like any other API request."""
    setattr(view, VIEW_MARKER, TOKEN_OPTIONAL)
    view.csrf_exempt = True
    return view
