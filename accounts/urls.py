from __future__ import annotations

from django.urls import path

from accounts.views import password_reset, signin, signup
from accounts.views import settings as account_settings

app_name = "accounts"

urlpatterns = [
    path("", account_settings.profile, name="settings"),
    path("security/", account_settings.security, name="security"),
    path("signup/", signup.signup, name="signup"),
    path("signup/check-email/", signup.signup_done, name="signup_done"),
    path("verify-email/<uidb64>/<token>/", signup.verify_email, name="verify_email"),
    path("verify-email/resend/", signup.verification_resend, name="verification_resend"),
    path("login/", signin.login, name="login"),
    path("login/code/", signin.login_two_factor, name="login_two_factor"),
    path("security/sign-out-others/", account_settings.sign_out_others, name="sign_out_others"),
    path("security/two-factor/", account_settings.two_factor_setup, name="two_factor_setup"),
    path("security/two-factor/off/", account_settings.two_factor_off, name="two_factor_off"),
    path(
        "security/recovery-codes/",
        account_settings.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    path("logout/", signin.logout, name="logout"),
    path("password-reset/", password_reset.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        password_reset.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        password_reset.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
