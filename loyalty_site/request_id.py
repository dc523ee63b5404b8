"""A reference for every request: in the response header, on the error page and in every log line.

A shop owner who meets an error can quote the reference, and the operator
finds the matching log lines. Log lines carry the request id, the shop's slug
and the path, never a query string or personal data.
"""

import contextvars
import logging
import re
import uuid

_current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("request_log_context", default=None)
# A proxy's X-Request-ID is kept only if it looks like an id.
_SANE = re.compile(r"[A-Za-z0-9-]{8,64}")
_SHOP = re.compile(r"^/s/([\w-]+)/")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        shop = _SHOP.match(request.path)
        token = _current.set({"request_id": request.request_id, "path": request.path,
                              "shop": shop.group(1) if shop else "-"})  # fmt: skip
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class RequestContextFilter(logging.Filter):
    """Adds request_id, shop and path to every record ("-" outside a request: worker, commands)."""

    def filter(self, record):
        context = _current.get() or {}
        for name in ("request_id", "shop", "path"):
            if not hasattr(record, name):
                setattr(record, name, context.get(name, "-"))
        return True
