"""A reference for every request: in the response header, on the error page and in every log line.

A shop owner who meets an error can quote the reference, and the operator
finds the matching log lines. Log lines carry the request id, the shop's slug
and the path, never a query string or personal data.
"""

import contextvars
import logging
import re
import uuid

from django.http import HttpRequest
from django.utils.log import log_response

_current: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("request_log_context", default=None)
# A proxy's X-Request-ID is kept only if it looks like an id.
_SANE = re.compile(r"[A-Za-z0-9-]{8,64}")
_SHOP = re.compile(r"^/s/([\w-]+)/")
# URL parts that are credentials (a member's card link, unsubscribe and invitation
# links, allauth's e-mail confirmation and password reset keys): anyone reading the
# logs could open the page with them.
_SECRET_KWARGS = ("token", "key")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        token = _current.set(request)
        try:
            response = self.get_response(request)
            # Django logs a 4xx or 5xx response that no exception caused only after
            # every middleware has returned, outside this context: its line would
            # have no request id. Logged here, it is marked and Django skips it.
            if response.status_code >= 400:
                log_response(
                    "%s: %s", response.reason_phrase, _blank_secrets(request), response=response, request=request
                )
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def _blank_secrets(request) -> str:
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name in _SECRET_KWARGS:
        value = match.kwargs.get(name) if match else None
        if isinstance(value, str) and value:
            head, found, tail = path.rpartition(value)
            if found:
                path = f"{head}<hidden>{tail}"
    return path


def _escape(text: str) -> str:
    # As Django's log_response does: a path holding a line break stays on one line.
    return text.encode("unicode_escape").decode("ascii")


def loggable_path(request) -> str:
    """The path with its secret parts blanked out, escaped to stay on one line."""
    return _escape(_blank_secrets(request))


def shop_slug(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match and match.kwargs.get("shop_slug"):
        return match.kwargs["shop_slug"]
    # Before the URL is resolved (middleware), or for a path that resolves nowhere.
    found = _SHOP.match(request.path)
    return found.group(1) if found else "-"


class RequestContextFilter(logging.Filter):
    """Adds request_id, shop and path to every record ("-" outside a request: worker, commands).

    Read when the line is logged, not when the request starts: the shop of a
    page such as /j/<shop_slug>/ and the secret parts of a path are only known
    once the URL is resolved."""

    def filter(self, record):
        request = _current.get()
        if request is None:
            context = {}
        else:
            context = {"request_id": request.request_id, "shop": shop_slug(request), "path": loggable_path(request)}
            # Django's own lines ("Internal Server Error: /c/<token>/") repeat the
            # escaped path in their arguments: give them the blanked one.
            escaped = _escape(request.path)
            if isinstance(record.args, tuple) and escaped != context["path"]:
                record.args = tuple(context["path"] if arg in (request.path, escaped) else arg for arg in record.args)
        for name in ("request_id", "shop", "path"):
            if not hasattr(record, name):
                setattr(record, name, context.get(name, "-"))
        return True
