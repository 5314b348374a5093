"""Fixtures the test modules of this folder share."""

from __future__ import annotations

import pyotp
import pytest
from django.utils import timezone

from accounts.models import TwoFactor
from accounts.two_factor import (
    two_factor_enable,
    two_factor_setup_begin,
)


def code_for(device: TwoFactor, moment=None) -> str:
    return pyotp.TOTP(device.secret).at(moment or timezone.now())


@pytest.fixture
def enabled(user):
    """Two-factor on for `user`; returns (device, recovery codes)."""
    device = two_factor_setup_begin(user=user)
    codes = two_factor_enable(user=user, code=code_for(device))
    device.refresh_from_db()
    return device, codes
