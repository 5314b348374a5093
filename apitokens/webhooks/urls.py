"""Account settings > Webhooks, mounted at /account/webhooks/."""

from __future__ import annotations

from django.urls import path

from apitokens.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.webhook_list, name="list"),
    path("add/", views.webhook_add, name="add"),
    path("<int:endpoint_id>/delete/", views.webhook_delete, name="delete"),
]
