"""Account forms: sign up, log in, profile, password change and reset."""

from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.contrib.auth.password_validation import MinimumLengthValidator
from django.core.exceptions import ValidationError

from accounts.models import User
from common.names import name_clean


def password_help_text() -> str:
    """One plain sentence describing the configured password rules."""
    min_length = next(
        (
            validator.min_length
            for validator in password_validation.get_default_password_validators()
            if isinstance(validator, MinimumLengthValidator)
        ),
        None,
    )
    length = f"at least {min_length} characters" if min_length else "a long password"
    return f"Use {length}. Avoid common passwords, numbers only, or anything like your email."


def clean_display_name_value(value: str) -> str:
    """Trimmed, NFKC-normalised display name; invisible characters (controls, zero-width,
    bidi marks) and look-alike letters from another script within a word are refused."""
    return name_clean(value.strip(), noun="display name")


class SignupForm(auth_forms.BaseUserCreationForm):
    """Create an account from an email address, an optional display name and a password."""

    error_messages = {
        **auth_forms.BaseUserCreationForm.error_messages,
        "password_mismatch": "The two passwords don't match. Type the same password twice.",
    }

    class Meta:
        model = User
        fields = ("email", "display_name")
        labels = {"email": "Email", "display_name": "Display name"}
        help_texts = {
            "display_name": "Shown in the header instead of your email. Up to 80 characters."
        }
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "display_name": forms.TextInput(attrs={"autocomplete": "name"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].label = "Password"
        self.fields["password1"].help_text = password_help_text()
        self.fields["password2"].label = "Confirm password"
        self.fields["password2"].help_text = ""

    def validate_password_for_user(self, user, password_field_name: str = "password1") -> None:
        # Show the password rules next to the password itself, not under "Confirm password".
        super().validate_password_for_user(user, password_field_name)

    def clean_email(self) -> str:
        # Whether the address is taken is never said here (no enumeration): the sign-up
        # service emails the owner instead.
        return User.objects.normalize_email(self.cleaned_data["email"]).strip()

    def validate_unique(self) -> None:
        # The model's unique checks would tell that the address has an account.
        pass

    def validate_constraints(self) -> None:
        # Likewise the case-insensitive email constraint; the database still enforces it.
        pass

    def clean_display_name(self) -> str:
        return clean_display_name_value(self.cleaned_data["display_name"])


class LoginForm(auth_forms.AuthenticationForm):
    """Email and password. Unknown account and wrong password get the same message."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": "Incorrect email or password.",
        "inactive": "Incorrect email or password.",
    }

    def get_invalid_login_error(self) -> ValidationError:
        return ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class ProfileForm(forms.ModelForm):
    """What the account shows about its owner."""

    class Meta:
        model = User
        fields = ("display_name",)
        labels = {"display_name": "Display name"}
        help_texts = {
            "display_name": "How QuickBot greets you. Up to 80 characters; leave empty to "
            "use your email address."
        }
        widgets = {"display_name": forms.TextInput(attrs={"autocomplete": "name"})}

    def clean_display_name(self) -> str:
        return clean_display_name_value(self.cleaned_data["display_name"])


class NewPasswordRulesMixin:
    """Report password-rule errors on the first new-password field, where the rules are."""

    def clean(self) -> dict:
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        return self.cleaned_data


class PasswordChangeForm(NewPasswordRulesMixin, auth_forms.PasswordChangeForm):
    """Current password, then the new one twice."""

    error_messages = {
        **auth_forms.PasswordChangeForm.error_messages,
        "password_incorrect": "Your current password is not correct. Please try again.",
        "password_mismatch": "The two new passwords don't match. Type the same password twice.",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
        self.fields["new_password1"].help_text = password_help_text()
        self.fields["new_password2"].label = "Confirm new password"
        self.fields["new_password2"].help_text = ""


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Ask for a reset link by email (sent only if an active account has that address)."""

    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class SetPasswordForm(NewPasswordRulesMixin, auth_forms.SetPasswordForm):
    """Choose a new password from a reset link."""

    error_messages = {
        **auth_forms.SetPasswordForm.error_messages,
        "password_mismatch": "The two passwords don't match. Type the same password twice.",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_help_text()
        self.fields["new_password1"].widget.attrs["autofocus"] = True
        self.fields["new_password2"].label = "Confirm new password"
        self.fields["new_password2"].help_text = ""


class SecondFactorForm(forms.Form):
    """A 6-digit code from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        help_text="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autofocus": True,
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
        error_messages={"required": "Enter the code.", "max_length": "That code is too long."},
    )
