from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from quickbot import views
from quickbot.metrics import metrics_view

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="apitokens:list", permanent=False), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("account/", include("accounts.urls")),
    path("account/tokens/", include("apitokens.urls")),
    path("account/webhooks/", include("apitokens.webhooks.urls")),
    path("api/", include("apitokens.api.urls")),
    path("docs/", include("apitokens.docs_urls")),
    path("admin/", admin.site.urls),
]

# JSON error bodies under /api/ for errors raised outside the API views.
handler400 = "quickbot.views.bad_request"
handler403 = "quickbot.views.permission_denied"
handler404 = "quickbot.views.page_not_found"
handler500 = "quickbot.views.server_error"
