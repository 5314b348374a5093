"""The portal's URLs plus the benchmark's reference views."""

from django.http import JsonResponse
from django.urls import include, path

from bench.layout import api_name

token_required = api_name("token_required")


def plain(request):
    """The baseline: a trivial JSON view, no authentication."""
    return JsonResponse({"ok": True})


@token_required
def protected(request):
    """The same trivial view behind the full token pipeline."""
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/plain/", plain),
    path("bench/protected/", protected),
    path("", include("quickbot.urls")),
]
