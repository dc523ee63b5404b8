"""The counter as an installable web app: its manifest and its service worker, one shop at a time.

Both are shop pages: only the shop's staff get them, and the worker's scope is that shop's counter
(/s/<shop>/counter/), so it never sees another shop's pages. What the worker keeps, and what the
counter does while the café is offline, is told in templates/rewards/counter_sw.js and
static/js/counter-offline.js.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from members.tenancy import shop_view

# Bump to make every counter drop what its worker kept (a change of what the shell needs).
CACHE_VERSION = 1


@shop_view("counter.use")
@require_GET
@never_cache
def counter_manifest(request):
    """Installed from the counter page, the app opens on the shop's counter, in the shop's colour."""
    shop = request.shop
    counter_url = reverse("rewards:counter", args=[shop.slug])
    maskable = {"src": static("icons/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png"}
    manifest = {
        "id": counter_url,
        "name": _("%(shop)s counter") % {"shop": shop.name},
        "short_name": shop.name[:24],
        "lang": get_language(),
        "start_url": counter_url,
        "scope": counter_url,
        "display": "standalone",
        "background_color": "#f7f6f3",
        "theme_color": shop.brand_colour,
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {**maskable, "purpose": "maskable"},
        ],
    }
    response = JsonResponse(manifest, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@shop_view("counter.use")
@require_GET
@never_cache
def counter_service_worker(request):
    """Keeps the counter's page shell and its static files for when the café is offline. Never
    cached by the browser's HTTP cache: a signed-out or removed staff member's device gets no new
    copy, and a new version reaches every counter at its next visit."""
    scope = reverse("rewards:counter", args=[request.shop.slug])
    context = {
        "cache_name": f"counter-{request.shop.slug}-v{CACHE_VERSION}",
        "cache_prefix": f"counter-{request.shop.slug}-",
        "shell": scope,
    }
    response = render(request, "rewards/counter_sw.js", context, content_type="text/javascript")
    # The worker's script lives inside its scope already; the header says the scope out loud.
    response["Service-Worker-Allowed"] = scope
    return response
