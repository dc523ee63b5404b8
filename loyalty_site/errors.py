"""The server-error page: in the portal's layout, in the visitor's language, with the request's reference."""

from django.http import HttpResponseServerError
from django.template import loader
from django.utils import translation


def server_error(request, template_name="500.html"):
    reference = getattr(request, "request_id", "")
    # Rendered without the request's context processors: whatever broke may be
    # among them, or the database behind them.
    try:
        body = loader.get_template(template_name).render(
            {"request_id": reference, "LANGUAGE_CODE": translation.get_language()}
        )
    except Exception:
        # The page itself failed (a template or the static files manifest): the
        # reference still reaches the visitor.
        body = f"Server error. Reference: {reference or '-'}"
        return HttpResponseServerError(body, content_type="text/plain; charset=utf-8")
    return HttpResponseServerError(body)
