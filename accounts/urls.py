from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.profile, name="settings"),
    path("security/", views.security, name="security"),
    path("signup/", views.signup, name="signup"),
    path("signup/check-email/", views.signup_done, name="signup_done"),
    path("verify-email/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("verify-email/resend/", views.verification_resend, name="verification_resend"),
    path("login/", views.login, name="login"),
    path("login/code/", views.login_two_factor, name="login_two_factor"),
    path("security/sign-out-others/", views.sign_out_others, name="sign_out_others"),
    path("security/two-factor/", views.two_factor_setup, name="two_factor_setup"),
    path("security/two-factor/off/", views.two_factor_off, name="two_factor_off"),
    path(
        "security/recovery-codes/",
        views.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    path("logout/", views.logout, name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
