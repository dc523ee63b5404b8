"""Error reports to Sentry, only when ``SENTRY_DSN`` is set, with personal data left out.

Members' names, e-mails and phones, card tokens in links and counter look-ups must not leave the
server: no user, no cookies or headers beyond the harmless, no request body, no query strings, no
local variables; the request's reference (``X-Request-ID``) goes along so an operator can find the
log lines.
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

# Headers a report may carry: nothing that identifies a person or a session.
KEPT_HEADERS = {"Host", "User-Agent", "Accept-Language", "X-Request-Id"}


def scrub(event: dict, hint=None) -> dict:
    """Remove what could identify a person from an event before it is sent."""
    request = event.get("request") or {}
    for key in ("cookies", "data", "query_string", "env"):
        request.pop(key, None)
    if "url" in request:
        # Card links and QR payloads live in the path: keep the route's shape, not its values.
        request["url"] = request["url"].split("?", 1)[0]
    if "headers" in request:
        request["headers"] = {k: v for k, v in request["headers"].items() if k.title() in KEPT_HEADERS}
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        crumb.pop("data", None)
    return event


def sentry_init(dsn: str, *, environment: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=scrub,
    )
