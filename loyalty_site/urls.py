from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("members.urls")),
    # Programs and rewards of a shop; same /s/<shop_slug>/ tenancy as members.
    path("s/<slug:shop_slug>/", include("rewards.urls")),
    path("", include("campaigns.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    # Uploaded logos in development; in production the web server or an
    # object store serves MEDIA_URL.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
handler500 = "loyalty_site.errors.server_error"
