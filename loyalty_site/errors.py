"""The server-error page: in the portal's layout, in the visitor's language, with the request's reference."""

from django.http import HttpResponseServerError
from django.template import loader


def server_error(request, template_name="500.html"):
    # Rendered without the request's context processors: whatever broke may be
    # among them, or the database behind them.
    try:
        body = loader.get_template(template_name).render(
            {"request_id": getattr(request, "request_id", ""), "LANGUAGE_CODE": getattr(request, "LANGUAGE_CODE", "en")}
        )
    except Exception:
        body = f"Server error. Reference: {getattr(request, 'request_id', '')}"
        return HttpResponseServerError(body, content_type="text/plain; charset=utf-8")
    return HttpResponseServerError(body)
