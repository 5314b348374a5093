"""Account settings > API Tokens, mounted at /account/tokens/."""

from __future__ import annotations

from django.urls import path

from apitokens import views

app_name = "apitokens"

urlpatterns = [
    path("", views.token_list, name="list"),
    path("new/", views.token_new, name="new"),
    path("<str:public_id>/delete/", views.token_delete, name="delete"),
    path("<str:public_id>/regenerate/", views.token_regenerate, name="regenerate"),
    path("<str:public_id>/edit/", views.token_edit, name="edit"),
    path("<str:public_id>/", views.token_detail, name="detail"),
]
