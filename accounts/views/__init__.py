"""Account pages, one module per sub-domain: `signup` (sign-up and the emailed
confirmation link), `signin` (login, the two-factor step, logout), `settings` (Profile and
Security, two-factor included), `password_reset`; `shared` holds what several use.

`safe_next_url` is re-exported for callers outside the package (the admin login).
"""

from __future__ import annotations

from accounts.views.shared import safe_next_url

__all__ = ["safe_next_url"]
