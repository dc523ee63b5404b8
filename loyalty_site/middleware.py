"""Refuse requests that no page of the portal can take, before any view sees them."""

from django.shortcuts import render


class RejectNulBytes:
    """A NUL character in a query parameter or form field is a 400 with a clear page.

    PostgreSQL cannot store or compare text holding NUL, so without this a NUL
    typed or scanned into any search box was a server error; no person types
    one, and no field of the portal means one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD", "DELETE"):
            data = request.GET
        else:
            data = request.GET.copy()
            if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                data.update(request.POST)
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists()):
            return render(request, "400.html", {"nul": True}, status=400)
        return self.get_response(request)
