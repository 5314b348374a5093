"""Webhooks: events about tokens (and, for staff, the whole security log) POSTed to HTTPS
endpoints, signed the Standard Webhooks way.

- `addresses`: which URLs may be called (HTTPS, public addresses only; checked again at
  delivery, which connects to the address checked).
- `signing`: secrets and the `webhook-id`, `webhook-timestamp`, `webhook-signature` headers.
- `events`: the payloads, the security-log kinds they follow, queuing the deliveries.
- `delivery`: the django.tasks task, one HTTP attempt, retries for 24 hours, disabling an
  endpoint that fails for 3 days.
- `notify`: the email when an endpoint is disabled.
- `services`, `forms`, `views`, `urls`: an owner's endpoints under Account settings.
"""
