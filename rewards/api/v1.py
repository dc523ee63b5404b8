"""The shop's REST API for its point of sale and tools, version 1, at /api/v1/ (docs/api.md).

Built with django-ninja: the OpenAPI schema (/api/v1/openapi.json) and the browsable docs
(/api/v1/docs) come from the endpoints' typed signatures. Every refusal answers the same body,
``{"code", "message"}`` (``schemas.Error``)."""

from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from .auth import ApiError
from .endpoints import router

api = NinjaAPI(
    title="Loyalty API",
    version="1",
    description="A shop's members, balances and counter actions for its point of sale and tools. "
    "Authenticate with `Authorization: Bearer lk_...` (a key the shop's owner makes on the API keys page). "
    "See docs/api.md for scopes, idempotency, rate limits and errors.",
    urls_namespace="api",
)
api.add_router("", router)


def _error(status: int, code: str, message: str, errors=None, headers=None) -> JsonResponse:
    response = JsonResponse({"code": code, "message": str(message), "errors": errors}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(exc.status, exc.code, exc.message, exc.errors, exc.headers)


@api.exception_handler(AuthenticationError)
def _unauthorised(request, exc):
    return _error(401, "unauthorized", _("Send a live API key: Authorization: Bearer lk_..."))


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = [
        {"field": ".".join(str(part) for part in error.get("loc", ())[1:]) or "body", "message": error.get("msg", "")}
        for error in exc.errors
    ]
    message = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
    return _error(422, "invalid", message or _("The request is not valid."), errors)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(404, "not_found", _("Not found."))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return _error(exc.status_code, "error", str(exc))
