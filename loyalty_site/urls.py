from importlib import import_module

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path
from django.views.decorators.http import require_GET

from rewards.api.v1 import api

from .health import healthz, status

# Everything a shop owns lives under /s/<shop_slug>/, behind members.tenancy.shop_view;
# tests/members/test_tenancy.py walks every URL under it.
SHOP_PREFIX = "s/<slug:shop_slug>/"


def app_urls(module: str):
    """Mount an app the one way every app is mounted: its public pages at the root, its shop pages
    under the shop prefix, all in the app's namespace."""
    urls = import_module(module)
    patterns = [*urls.public_patterns, path(SHOP_PREFIX, include(urls.shop_patterns))]
    return path("", include((patterns, urls.app_name)))


@require_GET
def health(request):
    """For a load balancer, and the benchmark's bare view: no session, no database."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def favicon(request):
    """Browsers ask for it at the root whatever the page says; the file lives with the static files."""
    return redirect(static_url("icons/favicon.ico"), permanent=True)


urlpatterns = [
    path("health/", health, name="health"),
    path("healthz", healthz, name="healthz"),
    path("status/", status, name="status"),
    path("favicon.ico", favicon),
    app_urls("members.urls"),
    app_urls("rewards.urls"),
    app_urls("campaigns.urls"),
    # The shops' REST API, versioned in the path (docs/api.md); its shop is in the path too.
    path("api/v1/", api.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    # Uploaded logos in development; in production the web server or an
    # object store serves MEDIA_URL.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
handler500 = "loyalty_site.errors.server_error"
