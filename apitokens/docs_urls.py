"""Documentation pages, mounted at /docs/ (URL names without a namespace: base.html uses them)."""

from __future__ import annotations

from django.urls import path

from apitokens import docs_views

urlpatterns = [
    path("api/", docs_views.api_reference, name="api-docs"),
]
